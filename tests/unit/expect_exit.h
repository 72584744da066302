/* The backends' exit-translation tests (test_vmx_exit.c, test_svm_exit.c)
 * compare a struct vcpu_exit with the one they expect: every field the exit
 * reason defines, by name in the failure message, then every byte. Include
 * after <cmocka.h> and arch/x86/vcpu.h. */
#ifndef ISTHMUS_TESTS_EXPECT_EXIT_H
#define ISTHMUS_TESTS_EXPECT_EXIT_H

#include <string.h>

#define EXPECT(field)                                                                                                  \
    do {                                                                                                               \
        if ((u64)got->field != (u64)want->field)                                                                       \
            fail_msg("%s: " #field " is %#llx, want %#llx", name, (unsigned long long)got->field,                      \
                     (unsigned long long)want->field);                                                                 \
    } while (0)

/* Every field the reason defines, then every byte: nothing else may be set. */
static void expect_exit(const char *name, const struct vcpu_exit *got, const struct vcpu_exit *want)
{
    EXPECT(reason);
    EXPECT(vendor_code);
    EXPECT(insn_len);
    switch (want->reason) {
    case VEXIT_IO:
        EXPECT(io.port);
        EXPECT(io.size);
        EXPECT(io.in);
        EXPECT(io.string);
        EXPECT(io.rep);
        break;
    case VEXIT_MSR:
        EXPECT(msr.index);
        EXPECT(msr.write);
        break;
    case VEXIT_SLPT_FAULT:
        EXPECT(fault.gpa.v);
        EXPECT(fault.read);
        EXPECT(fault.write);
        EXPECT(fault.fetch);
        EXPECT(fault.present);
        break;
    case VEXIT_EXCEPTION:
        EXPECT(exception.vector);
        EXPECT(exception.has_error);
        EXPECT(exception.error);
        EXPECT(exception.address);
        break;
    case VEXIT_CR_ACCESS:
        EXPECT(cr.cr);
        EXPECT(cr.write);
        EXPECT(cr.clts);
        EXPECT(cr.gpr);
        break;
    case VEXIT_INVLPG:
        EXPECT(invlpg.va);
        EXPECT(invlpg.known);
        break;
    case VEXIT_SIPI: EXPECT(sipi.vector); break;
    default: break;
    }
    if (memcmp(got, want, sizeof(*got)))
        fail_msg("%s: bytes beyond the reason's fields differ", name);
}

#endif
