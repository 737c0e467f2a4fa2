/*
 * Run fn(arg, part, parts) for part = 0 .. parts - 1 at the same time and return when all have
 * finished; the calling thread runs part 0. The LSTM kernel uses it to run the recurrence of
 * different rows of the batch on different cores (the rows are independent sequences, so the parts
 * share nothing that is written) and to split the large products by column panels or rows.
 *
 * The other parts run on a persistent pool of threads, started on first use and kept: a training
 * step makes about ten such calls per layer, and starting and joining threads on every call cost
 * more than the work of a small product. Between calls a pool thread spins for a few microseconds
 * (the next call usually follows at once) and then sleeps on a condition variable, so an idle or
 * busy machine loses no core to spinning.
 *
 * Which thread runs a part never changes what the part computes, so the results do not depend on
 * the number of threads. If the pool is busy (another Python thread is inside the kernel) or a
 * thread cannot be started, the parts run one after the other in the calling thread: same result,
 * less speed. POSIX threads where they exist; elsewhere every call runs in the calling thread.
 * After fork() the child starts with an empty pool of its own.
 */
#ifndef MINIKWS_PARALLEL_H
#define MINIKWS_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

#define MINIKWS_MAX_PARTS 16

typedef void (*minikws_part_fn)(void *arg, int part, int parts);

/* Returns the number of parts that ran on pool threads (0 .. parts - 1). */
int minikws_parallel(int parts, minikws_part_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* MINIKWS_PARALLEL_H */
