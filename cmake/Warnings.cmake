# earshot_set_warnings(target): the project's warning set, errors when EARSHOT_WERROR is on.
function(earshot_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wcast-align -Woverloaded-virtual)
  if(EARSHOT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if((EARSHOT_SANITIZE OR EARSHOT_TSAN) AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Sanitizer instrumentation makes GCC 12 report maybe-uninitialized inside Boost.Beast's
    # parser and <regex> (false positives the uninstrumented build does not show); the
    # sanitizers themselves check for uninitialized use at run time.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
