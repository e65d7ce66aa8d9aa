/* Bit patterns of IEEE floats as the @colyseus/schema encoder writes them.
 * float32: JS Math.fround semantics (values past the binary32 range become
 * infinities instead of being undefined behaviour), canonical NaNs. */
#ifndef SCHEMA_WIRE_H
#define SCHEMA_WIRE_H
#include <stdint.h>
#include <string.h>

static inline uint32_t sch_f32_bits(double d) {
    float f;
    uint32_t u;
    if (d != d) return 0x7fc00000u;
    if (d >= 3.4028235677973366e+38) return 0x7f800000u;
    if (d <= -3.4028235677973366e+38) return 0xff800000u;
    f = (float)d;
    memcpy(&u, &f, 4);
    return u;
}

static inline uint64_t sch_f64_bits(double d) {
    uint64_t u;
    if (d != d) return 0x7ff8000000000000ull;
    memcpy(&u, &d, 8);
    return u;
}

static inline double sch_fround(double d) {
    uint32_t u = sch_f32_bits(d);
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}
#endif
