/* Monotonic time for timers and deadlines. Protocol modules never call
 * these; they receive `now` from the I/O layer. */
#ifndef SLIM_CORE_TIME_H
#define SLIM_CORE_TIME_H

#include <stdint.h>

/* Nanoseconds from an arbitrary fixed point; never goes backwards. */
uint64_t slim_now_ns(void);

static inline uint64_t slim_now_ms(void) {
    return slim_now_ns() / 1000000u;
}

/* Milliseconds since the Unix epoch (wall clock: it can jump), for
 * timestamps people read, never for deadlines. */
uint64_t slim_wall_ms(void);

#endif
