# The per-port rate-limiting shim (trTCM marker, borrowing, congestion feedback).
UNIT_TESTS += shim
UNIT_SRCS_shim := tests/unit/test_shim.c net/shim.c
