# earshot_module(name DIR dir LIBS ...): a static library from every .cpp in `dir`.
# Each folder under src/ is one stage of the flow (see STYLE); its sources are its own.
function(earshot_module name)
  cmake_parse_arguments(M "" "" "LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    # A stage with no sources yet is a header-only interface.
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
                                                 ${PROJECT_BINARY_DIR}/generated)
    target_link_libraries(${name} INTERFACE ${M_LIBS})
    return()
  endif()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
                                            ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(${name} PUBLIC ${M_LIBS})
  earshot_set_warnings(${name})
endfunction()

# earshot_test_area(area LIBS ... [FILES ...] [EXCLUDE ...]): one GoogleTest binary, labelled
# `area`, from tests/<area>/*_test.cpp (or the FILES given, relative to tests/), less the
# files named in EXCLUDE.
function(earshot_test_area area)
  cmake_parse_arguments(T "" "" "LIBS;FILES;EXCLUDE" ${ARGN})
  if(T_FILES)
    list(TRANSFORM T_FILES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/ OUTPUT_VARIABLE sources)
  else()
    file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${area}/*_test.cpp)
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
