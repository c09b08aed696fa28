# earshot_set_warnings(target): the project's warning set, errors when EARSHOT_WERROR is on.
function(earshot_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wcast-align -Woverloaded-virtual)
  if(EARSHOT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
