# cmake -DINPUT=file -DOUTPUT=header -DNAME=identifier -P embed_text.cmake
# Writes `inline constexpr char NAME[] = R"loopsan(<file contents>)loopsan";`. The contents are
# appended verbatim (file(APPEND) does not expand ${...} inside a variable's value).
file(READ "${INPUT}" content)
file(WRITE "${OUTPUT}" "// Generated from ${INPUT}; do not edit.\n#pragma once\n")
file(APPEND "${OUTPUT}" "inline constexpr char ${NAME}[] = R\"loopsan(")
file(APPEND "${OUTPUT}" "${content}")
file(APPEND "${OUTPUT}" ")loopsan\";\n")
