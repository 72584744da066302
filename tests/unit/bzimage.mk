# The bzImage loader (vmm/bzimage.c), with the partition layout it loads into
# and the 64-bit entry's page tables, GDT and vCPU state (vmm/boot64.c).
# ISTHMUS_VMLINUZ=path (or build/debian/vmlinuz, `make debian-kernel`) adds a
# real kernel; the test is skipped without one.
UNIT_TESTS += bzimage
UNIT_SRCS_bzimage  = tests/unit/test_bzimage.c vmm/bzimage.c vmm/pvh_start.c vmm/boot64.c vmm/layout.c $(VMM_TEST_LIBS)
