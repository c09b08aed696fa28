#pragma once

// The split the encoder's fused attentions (fused_attention.h, int8_attention.h) share: the
// query rows of every head in blocks of a few rows, over the threads head-major, so that a
// thread's share is whole heads (or most of them) whose packed keys and values stay in its
// cache.

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace earshot::whisper {

// Calls fn(head, first_row, rows, thread) for every block of at most `block` of the n_q query
// rows of each of n_head heads, on `threads` OpenMP threads.
template <typename Fn>
void for_each_head_block(std::int64_t n_head, std::int64_t n_q, int block, int threads,
                         const Fn& fn) {
  const std::int64_t blocks = (n_q + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t task = 0; task < n_head * blocks; ++task) {
    const std::int64_t i0 = (task % blocks) * block;
    fn(task / blocks, i0, static_cast<int>(std::min<std::int64_t>(block, n_q - i0)),
       omp_get_thread_num());
  }
}

}  // namespace earshot::whisper
