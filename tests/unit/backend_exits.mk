# The backends' exit translation (arch/x86/vmx/vmx_exit.c, arch/x86/svm/svm_exit.c)
# as pure functions of the raw exit fields, on the SDM's and the APM's encodings.
UNIT_TESTS += vmx_exit svm_exit
UNIT_SRCS_vmx_exit := tests/unit/test_vmx_exit.c arch/x86/vmx/vmx_exit.c
UNIT_SRCS_svm_exit := tests/unit/test_svm_exit.c arch/x86/svm/svm_exit.c
