pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
list(APPEND SLIM_SOURCES src/config/cfg.c src/config/endpoint.c)
list(APPEND SLIM_LIBS PkgConfig::YAML)
