# The public API, include/earshot/*.h, and the generated version header: every library sees
# these and nothing else of the tree unless it links the library that owns a header.
add_library(earshot_api INTERFACE)
target_include_directories(earshot_api INTERFACE ${PROJECT_SOURCE_DIR}/include
                                                 ${PROJECT_BINARY_DIR}/generated)

# earshot_module(name INCLUDE_AS prefix [HEADER_ONLY] [INTERNAL_HEADERS] [HEADERS h...] [SOURCES s...] [LIBS ...]
#                [PRIVATE_LIBS ...])
# A static library (or, HEADER_ONLY or without sources, an interface) from the .cpp files of the
# current folder, not of its subfolders (each of those is a library of its own). Its headers
# (all .h of the folder, or HEADERS) are what it exposes, as "<prefix>/<header>": they are
# linked into a folder of the build tree that is the library's only include root, so code
# sees a header only through a library it links, and a wrong include fails to build.
# With INTERNAL_HEADERS the headers are the sources' own and nobody else's (the library's
# interface is then a header of include/earshot/).
# LIBS are used by the headers too (passed on to whoever links this); PRIVATE_LIBS only by the
# sources.
function(earshot_module name)
  cmake_parse_arguments(M "HEADER_ONLY;INTERNAL_HEADERS" "INCLUDE_AS" "HEADERS;SOURCES;LIBS;PRIVATE_LIBS" ${ARGN})
  if(NOT M_INCLUDE_AS)
    message(FATAL_ERROR "earshot_module(${name}): INCLUDE_AS is required")
  endif()
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  if(NOT M_HEADERS)
    file(GLOB M_HEADERS CONFIGURE_DEPENDS RELATIVE ${dir} ${dir}/*.h)
  endif()
  if(NOT M_SOURCES AND NOT M_HEADER_ONLY)
    file(GLOB M_SOURCES CONFIGURE_DEPENDS RELATIVE ${dir} ${dir}/*.cpp)
  endif()
  set(stage ${PROJECT_BINARY_DIR}/include/${name})
  file(REMOVE_RECURSE ${stage})
  file(MAKE_DIRECTORY ${stage}/${M_INCLUDE_AS})
  foreach(header IN LISTS M_HEADERS)
    file(CREATE_LINK ${dir}/${header} ${stage}/${M_INCLUDE_AS}/${header} SYMBOLIC)
  endforeach()
  if(NOT M_SOURCES)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${stage})
    target_link_libraries(${name} INTERFACE earshot_api ${M_LIBS})
    return()
  endif()
  add_library(${name} STATIC ${M_SOURCES})
  if(M_INTERNAL_HEADERS)
    target_include_directories(${name} PRIVATE ${stage})
  else()
    target_include_directories(${name} PUBLIC ${stage})
  endif()
  target_link_libraries(${name} PUBLIC earshot_api ${M_LIBS} PRIVATE ${M_PRIVATE_LIBS})
  earshot_set_warnings(${name})
endfunction()

# earshot_test_area(label [DIR folder] LIBS ... [FILES ...] [EXCLUDE ...]): one GoogleTest
# binary, earshot_<label>_tests, its tests labelled `label`, from tests/<folder>/*_test.cpp
# (folder defaults to the label; or the FILES given, relative to tests/), less the files named
# in EXCLUDE.
function(earshot_test_area area)
  cmake_parse_arguments(T "" "DIR" "LIBS;FILES;EXCLUDE" ${ARGN})
  if(NOT T_DIR)
    set(T_DIR ${area})
  endif()
  if(T_FILES)
    list(TRANSFORM T_FILES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/ OUTPUT_VARIABLE sources)
  else()
    file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${T_DIR}/*_test.cpp)
  endif()
  foreach(excluded IN LISTS T_EXCLUDE)
    list(REMOVE_ITEM sources ${CMAKE_CURRENT_SOURCE_DIR}/${excluded})
  endforeach()
  if(NOT sources)
    return()
  endif()
  set(target earshot_${area}_tests)
  add_executable(${target} ${sources})
  target_link_libraries(${target} PRIVATE ${T_LIBS} earshot_testing GTest::gtest GTest::gmock GTest::gtest_main)
  earshot_set_warnings(${target})
  gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS ${area})
endfunction()
