# Writes OUT, a C file defining pg_default_config_parts[]: the bytes of each
# file of IN (a ;-separated list: the main configuration, then fragments),
# NULL-terminated.
set(i 0)
set(body "/* generated from etc/pecguard.conf and etc/pecguard.d/: do not edit */\n")
set(names "")
foreach(f ${IN})
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const char part${i}[] = {${bytes}0};\n")
  string(APPEND names "part${i}, ")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "const char *const pg_default_config_parts[] = {${names}0};\n")
file(WRITE ${OUT} "${body}")
