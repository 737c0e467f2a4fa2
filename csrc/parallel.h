/*
 * Run fn(arg, part, parts) for part = 0 .. parts - 1 at the same time, one thread per part (the
 * calling thread runs part 0), and return when all have finished. The LSTM kernel uses it to run the
 * recurrence of different rows of the batch on different cores: the rows are independent sequences,
 * so the parts share nothing that is written and need no synchronisation until the end.
 *
 * POSIX threads where they exist; elsewhere, or when a thread cannot be started, the parts run one
 * after the other in the calling thread (same result, less speed). Returns the number of parts that
 * ran in threads of their own (0 .. parts - 1).
 */
#ifndef MINIKWS_PARALLEL_H
#define MINIKWS_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

#define MINIKWS_MAX_PARTS 16

typedef void (*minikws_part_fn)(void *arg, int part, int parts);

int minikws_parallel(int parts, minikws_part_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* MINIKWS_PARALLEL_H */
