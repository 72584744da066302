# Shadow page tables (vmm/shadow.c): the guest walker with its permission
# checks, the root cache, write protection of guest tables and the emulation
# of their writes, over a fake guest RAM and a fake pool of table pages.
UNIT_TESTS += shadow
UNIT_SRCS_shadow := tests/unit/test_shadow.c vmm/shadow.c
