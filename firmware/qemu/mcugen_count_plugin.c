/* mcugen_count_plugin.c: a QEMU TCG plugin that counts executed guest instructions exactly and
 * prints the running count each time execution reaches one of a few marker addresses.
 *
 * Built on the host by `mcugen bench` (gcc -shared -fPIC) and loaded with
 *     qemu-system-arm ... -plugin mcugen_count_plugin.so,marks=0x1a2:0x1b4:0x2c0 -d plugin -D log
 * Each time the instruction at a marker address is about to run, it writes one line
 *     mark <index of the address in marks> <instructions executed so far>
 * and at exit "total <instructions>". Differences between two lines are exact instruction
 * counts of the code in between, on any board, whatever its timers do.
 *
 * What it relies on (QEMU 7.2's plugin API, version 1; Debian ships no qemu-plugin.h, so the
 * few declarations used are written out below and must match that header):
 *   - qemu_plugin_version (exported int) within [QEMU_PLUGIN_MIN_VERSION 0, QEMU_PLUGIN_VERSION 1];
 *   - an inline "add 1 to a u64" registered on every instruction at translation time: QEMU emits
 *     it in front of the instruction's code, so it counts instructions that really execute (a TB
 *     left early by an exception does not count the rest; an I/O instruction that QEMU re-runs
 *     under -icount is re-translated with CF_MEMI_ONLY, which skips instruction callbacks);
 *   - one vCPU (Cortex-M boards): a plain global counter needs no atomics;
 *   - marker addresses are instruction addresses (Thumb bit cleared by the caller). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the subset of QEMU 7.2's include/qemu/qemu-plugin.h this plugin uses ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { int max_vcpus; struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
/* ---- end of the API subset ---- */

#define MAX_MARKS 16

static uint64_t executed; /* instructions run so far, bumped inline by every instruction */
static uint64_t marks[MAX_MARKS];
static int mark_count;

static void on_mark(unsigned int vcpu_index, void *userdata)
{
    char line[64];
    (void)vcpu_index;
    snprintf(line, sizeof line, "mark %d %" PRIu64 "\n", (int)(uintptr_t)userdata, executed);
    qemu_plugin_outs(line);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        for (int m = 0; m < mark_count; m++)
            if (marks[m] == vaddr)
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)m);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
    }
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata)
{
    char line[64];
    (void)id, (void)userdata;
    snprintf(line, sizeof line, "total %" PRIu64 "\n", executed);
    qemu_plugin_outs(line);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv);
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int a = 0; a < argc; a++) {
        if (strncmp(argv[a], "marks=", 6) != 0) {
            fprintf(stderr, "mcugen_count_plugin: unknown argument %s (expected marks=ADDR:ADDR...)\n", argv[a]);
            return -1;
        }
        for (char *p = argv[a] + 6, *end; *p != '\0'; p = end + (*end == ':')) {
            if (mark_count == MAX_MARKS) {
                fprintf(stderr, "mcugen_count_plugin: more than %d marks\n", MAX_MARKS);
                return -1;
            }
            marks[mark_count++] = strtoull(p, &end, 0);
            if (end == p || (*end != ':' && *end != '\0')) {
                fprintf(stderr, "mcugen_count_plugin: bad address in %s\n", argv[a]);
                return -1;
            }
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
