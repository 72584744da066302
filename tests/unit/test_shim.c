/* The per-port rate-limiting shim, on a simulated clock: rate accuracy of the
 * trTCM marker, borrowing of idle capacity, congestion feedback against a
 * simulated receiver, bursts, retry times, live changes and overflow. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/shim.h"
#include "kernel/lib/errno.h"

#define US 1000ULL
#define MS 1000000ULL
#define S  1000000000ULL

/* A sender with a ring that is never empty while busy (greedy). */
struct port {
    struct shim s;
    u32 frame;
    bool busy;
    bool rx_idle;
    u64 next;   /* ns of its next attempt */
    u64 bytes;  /* passed */
    u64 yellow; /* bytes passed yellow */
};

static void port_start(struct port *p, struct shim_link *l, const struct shim_cfg *cfg, u32 frame, u64 now)
{
    memset(p, 0, sizeof(*p));
    assert_null(shim_cfg_check(cfg));
    shim_init(&p->s, l, cfg, now);
    p->frame = frame;
    p->rx_idle = true;
    p->next = now;
}

static void port_busy(struct port *p, u64 now)
{
    p->busy = true;
    p->next = now;
}

static void port_idle(struct port *p, u64 now)
{
    p->busy = false;
    shim_idle(&p->s, now);
}

static enum shim_verdict admit(struct shim *s, u64 now, u32 bytes, bool rx_idle, enum shim_colour *c, u64 *retry)
{
    *retry = 0;
    enum shim_verdict v = shim_admit(s, now, bytes, rx_idle, c, retry);
    if (v == SHIM_PASS)
        assert_true(*c == SHIM_GREEN || *c == SHIM_YELLOW);
    else
        assert_true(*retry > now); /* never in the past, never a spin */
    return v;
}

/* Runs the busy ports up to and including `to`: each sends while its shim
 * passes, then retries when told. */
static void run(struct port **ps, int n, u64 to)
{
    for (;;) {
        struct port *p = NULL;
        for (int i = 0; i < n; i++)
            if (ps[i]->busy && (!p || ps[i]->next < p->next))
                p = ps[i];
        if (!p || p->next > to)
            return;
        enum shim_colour c;
        u64 retry;
        if (admit(&p->s, p->next, p->frame, p->rx_idle, &c, &retry) == SHIM_PASS) {
            p->bytes += p->frame;
            if (c == SHIM_YELLOW)
                p->yellow += p->frame;
        } else {
            p->next = retry;
        }
    }
}

static double absd(double x) { return x < 0 ? -x : x; }

static double rel_err(double got, double want) { return (got - want) / want; }

/* ---------------------------------------------------------------- (1) accuracy */

static void greedy_alone(u64 cir, u64 cbs, u32 frame, u64 secs)
{
    struct shim_cfg cfg = { .cir = cir, .cbs = cbs, .pir = 2 * cir, .pbs = 2 * cbs, .wc = false };
    struct shim_link l;
    shim_link_init(&l, 0, 0);
    struct port a;
    port_start(&a, &l, &cfg, frame, 0);
    port_busy(&a, 0);
    struct port *ps[] = { &a };
    run(ps, 1, secs * S);

    /* Exactly what the bucket gave by then, less under one frame left in it. */
    u64 ideal = cbs + cir * secs;
    assert_true(a.bytes <= ideal);
    assert_true(a.bytes + frame > ideal);
    double err = rel_err((double)a.bytes / (double)secs, (double)cir);
    assert_true(err < 0.005 && err > -0.005);
    print_message("      cir %llu frame %u: %.4f%% incl. the initial burst, %.6f%% without\n", (unsigned long long)cir,
                  frame, 100 * err, 100 * rel_err((double)(a.bytes - cbs) / (double)secs, (double)cir));
    assert_int_equal(a.yellow, 0);
    assert_int_equal(a.s.stats.frames[SHIM_YELLOW], 0);
    assert_int_equal(a.s.stats.frames[SHIM_GREEN] * frame, a.bytes);
    assert_true(a.s.stats.held > 0);
    /* Every frame held at least once was counted red once (all but the burst). */
    assert_true(a.s.stats.frames[SHIM_RED] <= a.s.stats.frames[SHIM_GREEN]);
    assert_true(a.s.stats.frames[SHIM_RED] >= a.s.stats.frames[SHIM_GREEN] - cbs / frame - 1);
}

static void test_cir_accuracy(void **state)
{
    greedy_alone(1000000, 15000, 1500, 10);
    greedy_alone(1000000, 2048, 64, 10);
    greedy_alone(1234567, 4500, 1500, 10);
    greedy_alone(777, 2048, 64, 10000);        /* a frame per 82 ms */
    greedy_alone(333333333, 1 << 20, 1500, 1); /* 333 MB/s */
}

/* ---------------------------------------------------------------- (2) borrowing */

static double rate_over(struct port **ps, int n, struct port *p, u64 from, u64 to)
{
    run(ps, n, from);
    u64 b0 = p->bytes;
    run(ps, n, to);
    return (double)(p->bytes - b0) * S / (double)(to - from);
}

static void test_borrowing(void **state)
{
    const u64 C = 10000000; /* 10 MB/s */
    struct shim_link l;
    shim_link_init(&l, C, 0);
    struct shim_cfg ca = { .cir = 3000000, .cbs = 15000, .pir = 6000000, .pbs = 30000, .wc = true };
    struct shim_cfg cb = { .cir = 7000000, .cbs = 15000, .pir = 7000000, .pbs = 15000, .wc = false };
    struct port a, b;
    port_start(&a, &l, &ca, 1500, 0);
    port_start(&b, &l, &cb, 1500, 0);
    struct port *ps[] = { &a, &b };
    assert_int_equal(l.committed_active, 0); /* both start black */

    /* B black: A borrows up to its PIR. */
    port_busy(&a, 0);
    assert_int_equal(l.committed_active, 0);
    run(ps, 2, 0);
    assert_int_equal(l.committed_active, ca.cir);
    double r = rate_over(ps, 2, &a, 500 * MS, 3 * S);
    print_message("      A alone, PIR 6 MB/s: %.0f B/s\n", r);
    assert_true(absd(rel_err(r, 6000000)) < 0.02);
    assert_true(a.yellow > 0);

    /* With a PIR above the link, A gets the whole link. */
    struct shim_cfg ca2 = ca;
    ca2.pir = 20000000;
    ca2.pbs = 60000;
    assert_int_equal(shim_set(&a.s, &ca2, 3 * S), 0);
    r = rate_over(ps, 2, &a, 3500 * MS, 6 * S);
    print_message("      A alone, PIR 20 MB/s: %.0f B/s (link %llu)\n", r, (unsigned long long)C);
    assert_true(absd(rel_err(r, (double)C)) < 0.02);
    assert_true(r <= C * 1.001);

    /* B busy at its CIR: nothing is idle, A falls back to its CIR. */
    port_busy(&b, 6 * S);
    run(ps, 2, 6 * S);
    assert_int_equal(l.committed_active, ca.cir + cb.cir);
    u64 b0 = b.bytes;
    r = rate_over(ps, 2, &a, 6500 * MS, 9 * S);
    double rb = (double)(b.bytes - b0) / 3;
    print_message("      A with B busy: %.0f B/s, B %.0f B/s\n", r, rb);
    assert_true(absd(rel_err(r, (double)ca.cir)) < 0.02);
    assert_true(absd(rel_err(rb, (double)cb.cir)) < 0.02);

    /* B idle again: A borrows again. */
    port_idle(&b, 9 * S);
    assert_int_equal(l.committed_active, ca.cir);
    assert_int_equal(b.s.stats.frames[SHIM_BLACK], 1);
    r = rate_over(ps, 2, &a, 9500 * MS, 12 * S);
    assert_true(absd(rel_err(r, (double)C)) < 0.02);

    /* A's receiver busy: no borrowing, only its CIR. */
    a.rx_idle = false;
    r = rate_over(ps, 2, &a, 12500 * MS, 15 * S);
    print_message("      A, receiver busy: %.0f B/s\n", r);
    assert_true(absd(rel_err(r, (double)ca.cir)) < 0.02);

    /* Not work-conserving: only its CIR either. */
    a.rx_idle = true;
    ca2.wc = false;
    assert_int_equal(shim_set(&a.s, &ca2, 15 * S), 0);
    r = rate_over(ps, 2, &a, 15500 * MS, 18 * S);
    assert_true(absd(rel_err(r, (double)ca.cir)) < 0.02);
}

/* A port with no committed rate only borrows, and the link's spare capacity
 * (not committed to anyone) is lent even while everyone is busy. */
static void test_best_effort(void **state)
{
    struct shim_link l;
    shim_link_init(&l, 10000000, 0);
    struct shim_cfg ca = { .cir = 0, .pir = 8000000, .pbs = 15000, .wc = true };
    struct shim_cfg cb = { .cir = 4000000, .cbs = 15000, .pir = 4000000, .pbs = 15000 };
    struct port a, b;
    port_start(&a, &l, &ca, 1500, 0);
    port_start(&b, &l, &cb, 1500, 0);
    struct port *ps[] = { &a, &b };
    port_busy(&a, 0);
    port_busy(&b, 0);
    u64 b0 = b.bytes;
    double r = rate_over(ps, 2, &a, 500 * MS, 3 * S);
    assert_true(absd(rel_err(r, 6000000)) < 0.02); /* the uncommitted 6 MB/s */
    assert_true(absd(rel_err((double)(b.bytes - b0) / 3, 4000000)) < 0.03);
    assert_int_equal(a.s.stats.frames[SHIM_GREEN], 0);
    assert_int_equal(a.yellow, a.bytes);
    port_idle(&b, 3 * S);
    r = rate_over(ps, 2, &a, 3500 * MS, 6 * S);
    assert_true(absd(rel_err(r, 8000000)) < 0.02); /* its PIR */
}

/* ---------------------------------------------------------------- (3) feedback */

struct rx {
    u64 q;    /* queued, bytes x 1e9 (drained continuously) */
    u64 rate; /* bytes/s */
    u64 last;
    u64 drained; /* bytes x 1e9 */
};

static void rx_drain(struct rx *r, u64 now)
{
    u64 d = MIN(r->q, r->rate * (now - r->last));
    r->q -= d;
    r->drained += d;
    r->last = now;
}

struct fb {
    struct port p[2];
    struct rx rx;
    u64 Q, T; /* queue size and threshold, bytes */
    u64 full; /* times a frame did not fit */
    u64 qmax;
};

static void fb_congested(struct fb *f, u64 now)
{
    for (int i = 0; i < 2; i++)
        shim_congestion(&f->p[i].s, now);
}

static void fb_run(struct fb *f, u64 to)
{
    for (;;) {
        struct port *p = f->p[0].next <= f->p[1].next ? &f->p[0] : &f->p[1];
        if (p->next > to)
            break;
        u64 now = p->next;
        rx_drain(&f->rx, now);
        u64 fr = (u64)p->frame * S;
        if (f->rx.q + fr > f->Q * S) { /* back-pressure: it stays in the sender's ring */
            f->full++;
            fb_congested(f, now);
            p->next = now + (f->rx.q + fr - f->Q * S + f->rx.rate - 1) / f->rx.rate;
            continue;
        }
        enum shim_colour c;
        u64 retry;
        if (admit(&p->s, now, p->frame, p->rx_idle, &c, &retry) == SHIM_PASS) {
            p->bytes += p->frame;
            f->rx.q += fr;
            assert_true(f->rx.q <= f->Q * S); /* never overrun */
            f->qmax = MAX(f->qmax, f->rx.q / S);
            if (f->rx.q > f->T * S)
                fb_congested(f, now);
        } else {
            p->next = retry;
        }
    }
    rx_drain(&f->rx, to);
}

static void test_feedback(void **state)
{
    static struct fb f;
    memset(&f, 0, sizeof(f));
    struct shim_link l;
    shim_link_init(&l, 0, 0);
    const u64 R = 10000000;
    struct shim_cfg cfg = { .cir = 40000000, .cbs = 16384, .pir = 40000000, .pbs = 16384, .wc = false };
    for (int i = 0; i < 2; i++) {
        port_start(&f.p[i], &l, &cfg, 1500, 0);
        port_busy(&f.p[i], 0);
    }
    f.rx.rate = R;
    f.Q = 80000;
    f.T = 40000;

    fb_run(&f, 2 * S);
    u64 d0 = f.rx.drained, s0 = f.p[0].bytes + f.p[1].bytes, full0 = f.full;
    fb_run(&f, 4 * S);
    double delivered = (double)(f.rx.drained - d0) / S / 2;
    double sent = (double)(f.p[0].bytes + f.p[1].bytes - s0) / 2;
    print_message("      receiver %llu B/s: delivered %.0f B/s, sent %.0f B/s, queue max %llu of %llu, "
                  "full %llu times (%llu after 2 s), factors %u %u ppm\n",
                  (unsigned long long)R, delivered, sent, (unsigned long long)f.qmax, (unsigned long long)f.Q,
                  (unsigned long long)f.full, (unsigned long long)(f.full - full0), f.p[0].s.factor_ppm,
                  f.p[1].s.factor_ppm);
    assert_true(f.qmax <= f.Q);
    assert_true(absd(rel_err(delivered, (double)R)) < 0.10);
    assert_true(absd(rel_err(sent, (double)R)) < 0.10);
    for (int i = 0; i < 2; i++) {
        assert_true(f.p[i].s.stats.cuts > 0);
        assert_true(f.p[i].s.factor_ppm < 500000);
        assert_true(shim_cir_now(&f.p[i].s) < cfg.cir / 2);
        assert_true(shim_cir_now(&f.p[i].s) >= cfg.cir * SHIM_MIN_PPM / 1000000);
    }
    /* Both get a share. */
    assert_true(f.p[0].bytes > f.p[1].bytes / 3 && f.p[1].bytes > f.p[0].bytes / 3);

    /* The receiver speeds up: no more congestion, additive recovery. */
    f.rx.rate = 200000000;
    fb_run(&f, 4 * S + 2 * MS);
    u64 cuts = f.p[0].s.stats.cuts, f1 = f.p[0].s.factor_ppm;
    fb_run(&f, 4 * S + 12 * MS);
    assert_int_equal(f.p[0].s.stats.cuts, cuts);
    u64 f2 = f.p[0].s.factor_ppm;
    print_message("      recovery: %llu -> %llu ppm in 10 ms\n", (unsigned long long)f1, (unsigned long long)f2);
    assert_true(f2 >= f1 + 9 * SHIM_AI_PPM && f2 <= f1 + 11 * SHIM_AI_PPM);
    fb_run(&f, 4100 * MS);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(f.p[i].s.factor_ppm, 1000000);
        assert_int_equal(shim_cir_now(&f.p[i].s), cfg.cir);
        assert_int_equal(shim_pir_now(&f.p[i].s), cfg.pir);
    }
    s0 = f.p[0].bytes + f.p[1].bytes;
    fb_run(&f, 5100 * MS);
    sent = (double)(f.p[0].bytes + f.p[1].bytes - s0);
    assert_true(absd(rel_err(sent, 2.0 * cfg.cir)) < 0.01);
    assert_int_equal(f.p[0].s.stats.cuts, cuts);
}

static void test_feedback_steps(void **state)
{
    struct shim_cfg cfg = { .cir = 1000000, .cbs = 4096, .pir = 3000000, .pbs = 8192, .wc = false };
    struct shim s;
    shim_init(&s, NULL, &cfg, 5 * S);
    shim_congestion(&s, 5 * S);
    assert_int_equal(s.factor_ppm, 500000);
    assert_int_equal(shim_cir_now(&s), 500000);
    assert_int_equal(shim_pir_now(&s), 1500000);
    shim_congestion(&s, 5 * S + MS - 1); /* too soon: no second cut */
    assert_int_equal(s.factor_ppm, 500000);
    assert_int_equal(s.stats.cuts, 1);
    shim_congestion(&s, 5 * S + MS);
    assert_int_equal(s.factor_ppm, 250000);
    for (u64 t = 2; t < 20; t++)
        shim_congestion(&s, 5 * S + t * MS);
    assert_int_equal(s.factor_ppm, SHIM_MIN_PPM); /* the floor */
    assert_int_equal(shim_cir_now(&s), 10000);
    u64 cuts = s.stats.cuts;

    /* Recovery is lazy (in admit): +SHIM_AI_PPM per ms without congestion. */
    enum shim_colour c;
    u64 retry;
    u64 t0 = 5 * S + 19 * MS;
    admit(&s, t0 + MS - 1, 64, true, &c, &retry);
    assert_int_equal(s.factor_ppm, SHIM_MIN_PPM);
    admit(&s, t0 + 3 * MS, 64, true, &c, &retry);
    assert_int_equal(s.factor_ppm, SHIM_MIN_PPM + 3 * SHIM_AI_PPM);
    assert_int_equal(s.stats.recoveries, 3);
    shim_congestion(&s, t0 + 3 * MS + 10); /* congestion restarts the wait */
    assert_int_equal(s.factor_ppm, (SHIM_MIN_PPM + 3 * SHIM_AI_PPM) / 2);
    admit(&s, t0 + 4 * MS + 9, 64, true, &c, &retry);
    assert_int_equal(s.factor_ppm, (SHIM_MIN_PPM + 3 * SHIM_AI_PPM) / 2);
    admit(&s, t0 + 4 * MS + 10, 64, true, &c, &retry);
    assert_int_equal(s.factor_ppm, (SHIM_MIN_PPM + 3 * SHIM_AI_PPM) / 2 + SHIM_AI_PPM);
    admit(&s, t0 + 10 * S, 64, true, &c, &retry); /* capped */
    assert_int_equal(s.factor_ppm, 1000000);
    assert_int_equal(s.stats.cuts, cuts + 1);
    /* Full rates again: the next congestion cuts at once. */
    shim_congestion(&s, t0 + 10 * S + 1);
    assert_int_equal(s.factor_ppm, 500000);
}

/* ---------------------------------------------------------------- (4) bursts */

static void burst(struct shim *s, u64 now, u32 frame, u32 *green, u32 *yellow)
{
    enum shim_colour c;
    u64 retry;
    *green = *yellow = 0;
    while (admit(s, now, frame, true, &c, &retry) == SHIM_PASS)
        (*(c == SHIM_GREEN ? green : yellow))++;
}

static void test_bursts(void **state)
{
    struct shim_link l;
    shim_link_init(&l, 0, 0);
    struct shim_cfg cfg = { .cir = 1000000, .cbs = 10000, .pir = 2000000, .pbs = 30000, .wc = true };
    struct shim s;
    shim_init(&s, &l, &cfg, 0);
    u32 g, y;
    burst(&s, S, 1000, &g, &y);
    assert_int_equal(g, 10);
    assert_int_equal(y, 20);
    shim_idle(&s, S);
    burst(&s, 10 * S, 1000, &g, &y); /* full again after idle */
    assert_int_equal(g, 10);
    assert_int_equal(y, 20);
    assert_int_equal(s.stats.frames[SHIM_BLACK], 1);
    /* 5 ms later: 5000 committed tokens, 10000 peak tokens. */
    burst(&s, 10 * S + 5 * MS, 1000, &g, &y);
    assert_int_equal(g, 5);
    assert_int_equal(y, 5);

    /* Not work-conserving: the burst is CBS only. */
    cfg.wc = false;
    shim_init(&s, &l, &cfg, 0);
    burst(&s, S, 1000, &g, &y);
    assert_int_equal(g, 10);
    assert_int_equal(y, 0);
    assert_int_equal(s.stats.frames[SHIM_RED], 1);
    assert_int_equal(s.stats.bytes[SHIM_RED], 1000);
    assert_int_equal(s.stats.bytes[SHIM_GREEN], 10000);
}

/* ---------------------------------------------------------------- (5) retry times */

static void test_retry_exact(void **state)
{
    enum shim_colour c;
    u64 retry, r2;
    struct shim_link l;
    shim_link_init(&l, 0, 0);

    /* Held for committed tokens (not wc): exact to the ns. */
    struct shim_cfg cfg = { .cir = 1234567, .cbs = 3000, .pir = 2469134, .pbs = 6000 };
    struct shim s;
    shim_init(&s, &l, &cfg, 0);
    u64 now = 7;
    for (int i = 0; i < 1000; i++) {
        while (admit(&s, now, 1500, true, &c, &retry) == SHIM_PASS)
            ;
        assert_int_equal(admit(&s, retry - 1, 1500, true, &c, &r2), SHIM_HOLD);
        assert_int_equal(r2, retry);
        assert_int_equal(admit(&s, retry, 1500, true, &c, &r2), SHIM_PASS);
        now = retry + (u64)i * 997;
    }
    assert_int_equal(s.stats.frames[SHIM_RED], 1000);
    assert_int_equal(s.stats.held, 2000);

    /* Held for peak tokens (wc, unlimited link): exact too, and it passes yellow. */
    struct shim_cfg wc = { .cir = 1000000, .cbs = 2048, .pir = 3000001, .pbs = 4096, .wc = true };
    shim_init(&s, &l, &wc, 0);
    now = 0;
    for (int i = 0; i < 100; i++) {
        while (admit(&s, now, 1000, true, &c, &retry) == SHIM_PASS)
            ;
        assert_int_equal(admit(&s, retry - 1, 1000, true, &c, &r2), SHIM_HOLD);
        assert_int_equal(admit(&s, retry, 1000, true, &c, &r2), SHIM_PASS);
        now = retry;
    }
    assert_true(s.stats.frames[SHIM_YELLOW] > 0);

    /* Held for the link's pool: when the pool will have it. */
    struct shim_link l2;
    shim_link_init(&l2, 5000000, 0);
    struct shim_cfg be = { .cir = 1000000, .cbs = 2048, .wc = true }; /* peak unlimited */
    shim_init(&s, &l2, &be, 0);
    now = 0;
    u32 yellow = 0;
    for (int i = 0; i < 100; i++) {
        while (admit(&s, now, 1500, true, &c, &retry) == SHIM_PASS)
            yellow += c == SHIM_YELLOW;
        assert_int_equal(admit(&s, retry - 1, 1500, true, &c, &r2), SHIM_HOLD);
        assert_int_equal(admit(&s, retry, 1500, true, &c, &r2), SHIM_PASS);
        now = retry;
    }
    assert_true(yellow > 0);

    /* Everything committed: when capacity returns is unknown, SHIM_FEEDBACK_NS. */
    struct shim_link l3;
    shim_link_init(&l3, 1000000, 0);
    struct shim_cfg full = { .cir = 1000000, .cbs = 2048, .pir = 0, .wc = true };
    shim_init(&s, &l3, &full, 0);
    l3.pool = 0;
    assert_int_equal(admit(&s, 0, 2048, true, &c, &retry), SHIM_PASS);
    assert_int_equal(admit(&s, 1, 2048, true, &c, &retry), SHIM_HOLD);
    assert_int_equal(retry, 1 + SHIM_FEEDBACK_NS);
    /* Receiver busy: no sooner than SHIM_FEEDBACK_NS either, but green comes first. */
    assert_int_equal(admit(&s, 2, 100, false, &c, &retry), SHIM_HOLD);
    assert_int_equal(retry, 100 * S / 1000000); /* 100 bytes at 1 MB/s */
}

/* ---------------------------------------------------------------- (6) live changes */

static void test_set_live(void **state)
{
    struct shim_link l;
    shim_link_init(&l, 100000000, 0);
    struct shim_cfg cfg = { .cir = 1000000, .cbs = 20000, .pir = 2000000, .pbs = 40000, .wc = false };
    struct port a;
    port_start(&a, &l, &cfg, 1000, 0);
    struct port *ps[] = { &a };

    /* Black: the link is not touched. */
    struct shim_cfg up = cfg;
    up.cir = 4000000;
    up.pir = 8000000;
    assert_int_equal(shim_set(&a.s, &up, 0), 0);
    assert_int_equal(l.committed_active, 0);
    assert_int_equal(shim_set(&a.s, &cfg, 0), 0);

    port_busy(&a, 0);
    double r = rate_over(ps, 1, &a, 100 * MS, 2 * S);
    assert_true(absd(rel_err(r, 1000000)) < 0.01);
    assert_int_equal(l.committed_active, 1000000);

    /* Raise. */
    assert_int_equal(shim_set(&a.s, &up, 2 * S), 0);
    assert_int_equal(l.committed_active, 4000000);
    r = rate_over(ps, 1, &a, 2100 * MS, 4 * S);
    assert_true(absd(rel_err(r, 4000000)) < 0.01);

    /* Lower, with smaller bursts: tokens capped. */
    port_idle(&a, 4 * S);
    assert_int_equal(l.committed_active, 0);
    enum shim_colour c;
    u64 retry;
    assert_int_equal(admit(&a.s, 5 * S, 1, true, &c, &retry), SHIM_PASS); /* buckets full again */
    assert_int_equal(l.committed_active, 4000000);
    assert_int_equal(a.s.tc, 20000 * S - S);
    struct shim_cfg down = { .cir = 500000, .cbs = 5000, .pir = 600000, .pbs = 6000, .wc = false };
    assert_int_equal(shim_set(&a.s, &down, 5 * S), 0);
    assert_int_equal(a.s.tc, 5000 * S);
    assert_int_equal(a.s.tp, 6000 * S);
    assert_int_equal(l.committed_active, 500000);
    port_busy(&a, 5 * S);
    u64 b0 = a.bytes;
    run(ps, 1, 5 * S);
    assert_int_equal(a.bytes - b0, 5000); /* the new burst, no more */
    r = rate_over(ps, 1, &a, 5100 * MS, 7 * S);
    assert_true(absd(rel_err(r, 500000)) < 0.01);

    /* Refused: nothing changes. */
    struct shim_cfg bad = down;
    bad.pir = 100;
    assert_int_equal(shim_set(&a.s, &bad, 7 * S), -EINVAL);
    assert_int_equal(a.s.cfg.pir, 600000);
    assert_int_equal(l.committed_active, 500000);

    /* From unlimited to limited: the buckets start full. */
    struct shim_cfg none = { 0 };
    assert_int_equal(shim_set(&a.s, &none, 7 * S), 0);
    assert_int_equal(l.committed_active, 0);
    assert_int_equal(shim_set(&a.s, &down, 7 * S), 0);
    assert_int_equal(a.s.tc, 5000 * S);
    assert_int_equal(a.s.tp, 6000 * S);
    assert_int_equal(l.committed_active, 500000);
    port_idle(&a, 8 * S);
    assert_int_equal(l.committed_active, 0);
    port_idle(&a, 9 * S); /* already black: one idle period */
    assert_int_equal(a.s.stats.frames[SHIM_BLACK], 2);
}

/* ---------------------------------------------------------------- (7) checks */

static void test_cfg_check(void **state)
{
    struct shim_cfg ok = { .cir = 1000, .cbs = SHIM_MIN_BURST, .pir = 1000, .pbs = SHIM_MIN_BURST };
    assert_null(shim_cfg_check(&ok));
    struct shim_cfg c = ok;
    c.pir = 999;
    assert_non_null(shim_cfg_check(&c)); /* pir < cir */
    c = ok;
    c.cbs = SHIM_MIN_BURST - 1;
    assert_non_null(shim_cfg_check(&c));
    c = ok;
    c.pbs = SHIM_MIN_BURST - 1;
    assert_non_null(shim_cfg_check(&c));
    c = ok;
    c.pir = 0;
    c.pbs = 0; /* peak unlimited: its burst is not used */
    assert_null(shim_cfg_check(&c));
    c = (struct shim_cfg){ .pir = 1000, .pbs = SHIM_MIN_BURST, .wc = true };
    assert_null(shim_cfg_check(&c)); /* no committed rate: best effort */
    c.wc = false;
    assert_non_null(shim_cfg_check(&c)); /* ... that could never send */
    c = (struct shim_cfg){ 0 };
    assert_null(shim_cfg_check(&c)); /* unlimited */
    c = ok;
    c.cir = c.pir = 20000000000000ULL;
    assert_non_null(shim_cfg_check(&c)); /* 20 TB/s */
    c = ok;
    c.cbs = c.pbs = 1ULL << 40;
    assert_non_null(shim_cfg_check(&c)); /* 1 TiB bursts */
    c.cbs = c.pbs = 1ULL << 30;
    assert_null(shim_cfg_check(&c));
    assert_string_equal(shim_colour_name(SHIM_YELLOW), "yellow");
    assert_string_equal(shim_colour_name(SHIM_BLACK), "black");
    assert_string_equal(shim_colour_name(SHIM_COLOURS), "?");
}

/* ---------------------------------------------------------------- (8) unlimited */

static void test_unlimited(void **state)
{
    enum shim_colour c;
    u64 retry;
    struct shim_link l;
    shim_link_init(&l, 1000, 0); /* even a tiny link: not charged */
    struct shim_cfg none = { 0 };
    struct shim s;
    shim_init(&s, &l, &none, 0);
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(admit(&s, 0, 65535, false, &c, &retry), SHIM_PASS);
        assert_int_equal(c, SHIM_GREEN);
    }
    assert_int_equal(l.committed_active, 0);
    assert_int_equal(shim_cir_now(&s), 0);

    /* Unlimited peak, unlimited link: beyond the CIR everything is yellow. */
    struct shim_link inf;
    shim_link_init(&inf, 0, 0);
    struct shim_cfg y = { .cir = 1000, .cbs = 2048, .wc = true };
    shim_init(&s, &inf, &y, 0);
    assert_int_equal(admit(&s, 0, 2000, true, &c, &retry), SHIM_PASS);
    assert_int_equal(c, SHIM_GREEN);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(admit(&s, 0, 9000, true, &c, &retry), SHIM_PASS);
        assert_int_equal(c, SHIM_YELLOW);
    }
    assert_int_equal(admit(&s, 0, 9000, false, &c, &retry), SHIM_HOLD); /* receiver busy */
    assert_true(retry <= SHIM_FEEDBACK_NS);
    assert_int_equal(inf.committed_active, 1000);
}

/* ---------------------------------------------------------------- (9) large rates */

static void test_large_rates(void **state)
{
    const u64 C = 100000000000ULL; /* 100 GB/s */
    struct shim_link l;
    shim_link_init(&l, C, 0);
    struct shim_cfg ca = {
        .cir = 10000000000ULL, .cbs = 100000000, .pir = 50000000000ULL, .pbs = 200000000, .wc = true
    };
    struct shim_cfg cb = { .cir = 40000000000ULL, .cbs = 100000000, .pir = 40000000000ULL, .pbs = 100000000 };
    struct port a, b;
    port_start(&a, &l, &ca, 10000000, 0); /* 10 MB "frames" keep the run short */
    port_start(&b, &l, &cb, 10000000, 0);
    struct port *ps[] = { &a, &b };
    port_busy(&a, 0);
    run(ps, 2, 500 * S);
    u64 a0 = a.bytes;
    port_busy(&b, 500 * S);
    run(ps, 2, 1000 * S);
    double ra = (double)a0 / 500, rb = (double)b.bytes / 500, ra2 = (double)(a.bytes - a0) / 500;
    print_message("      A alone %.6g B/s, then A %.6g B/s and B %.6g B/s\n", ra, ra2, rb);
    assert_true(absd(rel_err(ra, 50e9)) < 0.001);  /* its PIR */
    assert_true(absd(rel_err(ra2, 50e9)) < 0.001); /* still: C - CIR_B is 60 GB/s */
    assert_true(absd(rel_err(rb, 40e9)) < 0.001);
    assert_int_equal(l.committed_active, 50000000000ULL);

    /* Greedy at exactly the CIR, 10 GB/s for 1000 s: exact to a frame. */
    struct shim_link inf;
    shim_link_init(&inf, 0, 0);
    struct shim_cfg g = { .cir = 10000000000ULL, .cbs = 100000000, .pir = 10000000000ULL, .pbs = 100000000 };
    struct port p;
    port_start(&p, &inf, &g, 20000000, 0);
    port_busy(&p, 0);
    struct port *pp[] = { &p };
    run(pp, 1, 1000 * S);
    u64 ideal = g.cbs + g.cir * 1000;
    assert_true(p.bytes <= ideal && p.bytes + p.frame > ideal);

    /* A long silence: no overflow, the buckets and the pool are just full. */
    port_idle(&a, 1000 * S);
    port_idle(&b, 1000 * S);
    enum shim_colour c;
    u64 retry;
    u64 late = 1000 * S + 10000000000000000000ULL; /* ~317 years later */
    assert_int_equal(admit(&a.s, late, 1, true, &c, &retry), SHIM_PASS);
    assert_int_equal(a.s.tc, ca.cbs * S - S);
    assert_int_equal(a.s.tp, ca.pbs * S - S);
    assert_int_equal(l.pool, l.pool_max);
    assert_int_equal(l.pool_max, C * 10 * MS); /* 10 ms of the link */

    /* The largest rate shim_cfg_check accepts, under feedback. */
    struct shim_cfg big = { .cir = 10000000000000ULL, .cbs = 4ULL << 30, .pir = 10000000000000ULL, .pbs = 4ULL << 30 };
    assert_null(shim_cfg_check(&big));
    struct shim s;
    shim_init(&s, &inf, &big, 0);
    shim_congestion(&s, 0);
    assert_int_equal(shim_cir_now(&s), 5000000000000ULL);
    assert_int_equal(admit(&s, 1, 1 << 30, true, &c, &retry), SHIM_PASS);
    assert_int_equal(admit(&s, late, 1 << 30, true, &c, &retry), SHIM_PASS);
    assert_int_equal(s.factor_ppm, 1000000);
    assert_int_equal(s.tc, (big.cbs - (1 << 30)) * S);
}

/* Tokens per batch (shim_take after a green admit, shim_settle at the end
 * of a pass) decide every frame as one shim_admit per frame would, and leave
 * the same buckets and statistics: for a limited port, one with a committed
 * rate only, one with only a peak rate (nothing green) and an unlimited one,
 * over passes of random frames at random instants. */
static void test_grant_matches_admit(void **state)
{
    (void)state;
    const struct shim_cfg cfgs[] = {
        { .cir = 1000000, .cbs = 20000, .pir = 3000000, .pbs = 40000, .wc = true },
        { .cir = 2000000, .cbs = 9000 },
        { .pir = 1000000, .pbs = 9000, .wc = true },
        { 0 },
    };
    for (u32 k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
        struct shim_link la, lb;
        struct shim a, b;
        shim_link_init(&la, 50000000, 0);
        shim_link_init(&lb, 50000000, 0);
        shim_init(&a, &la, &cfgs[k], 0);
        shim_init(&b, &lb, &cfgs[k], 0);
        u64 now = 0, seed = 12345 + k;
        for (u32 pass = 0; pass < 3000; pass++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            now += (seed >> 33) % (2 * MS);
            u32 frames = 1 + (u32)(seed >> 20) % 64;
            bool rx_idle = (seed >> 40) & 1;
            for (u32 f = 0; f < frames; f++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                u32 bytes = 60 + (u32)(seed >> 35) % 9000;
                enum shim_colour ca, cb;
                u64 ra = 0, rb = 0;
                enum shim_verdict va = shim_admit(&a, now, bytes, rx_idle, &ca, &ra);
                enum shim_verdict vb = shim_take(&b, bytes) ? SHIM_PASS : shim_admit(&b, now, bytes, rx_idle, &cb, &rb);
                assert_int_equal(va, vb);
                if (va == SHIM_HOLD) {
                    assert_int_equal(ra, rb);
                    break; /* the pass stops at a held frame */
                }
            }
            if (pass % 7 == 0) {
                shim_congestion(&a, now);
                shim_congestion(&b, now);
            }
            shim_settle(&b);
            assert_int_equal(a.tc, b.tc);
            assert_int_equal(a.tp, b.tp);
            assert_memory_equal(&a.stats, &b.stats, sizeof(a.stats));
            assert_int_equal(la.pool, lb.pool);
            if (pass % 5 == 0) {
                shim_idle(&a, now);
                shim_idle(&b, now);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cir_accuracy),   cmocka_unit_test(test_borrowing),
        cmocka_unit_test(test_best_effort),    cmocka_unit_test(test_feedback),
        cmocka_unit_test(test_feedback_steps), cmocka_unit_test(test_bursts),
        cmocka_unit_test(test_retry_exact),    cmocka_unit_test(test_set_live),
        cmocka_unit_test(test_cfg_check),      cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_large_rates),    cmocka_unit_test(test_grant_matches_admit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
