/* A persistent pool of threads for minikws_parallel; see parallel.h. */
#include "parallel.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define MINIKWS_HAVE_PTHREADS 1
#else
#define MINIKWS_HAVE_PTHREADS 0
#endif

#if MINIKWS_HAVE_PTHREADS

/* How long a waiting thread polls before it sleeps: about 20-60 microseconds of `pause`. */
#define SPIN_ITERATIONS 2000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The pool. `caller` is held by the one thread whose job the pool runs; the job's fields are written
 * before `generation` is raised (release) and read after it is seen (acquire). */
static struct {
    pthread_mutex_t caller;
    pthread_mutex_t m;
    pthread_cond_t wake; /* generation raised: a new job */
    pthread_cond_t done; /* remaining reached 0 */
    int threads;         /* pool threads running: they take parts 1 .. threads */
    unsigned long generation;
    int remaining;       /* pool threads that have not finished the current job */
    minikws_part_fn fn;
    void *arg;
    int parts;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0};

struct start {
    int index;            /* the part this thread runs: 1 .. MINIKWS_MAX_PARTS - 1 */
    unsigned long seen;   /* the generation before the thread's first job */
};
static struct start starts[MINIKWS_MAX_PARTS];

static void *pool_thread(void *p)
{
    const int index = ((struct start *)p)->index;
    unsigned long seen = ((struct start *)p)->seen;
    for (;;) {
        unsigned long g = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE);
        for (int spin = 0; g == seen && spin < SPIN_ITERATIONS; ++spin) {
            cpu_relax();
            g = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.m);
            while ((g = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE)) == seen)
                pthread_cond_wait(&pool.wake, &pool.m);
            pthread_mutex_unlock(&pool.m);
        }
        seen = g;
        if (index < pool.parts)
            pool.fn(pool.arg, index, pool.parts);
        if (__atomic_sub_fetch(&pool.remaining, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&pool.m);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.m);
        }
    }
    return NULL;
}

/* In a child of fork() only the forking thread exists: start over with an empty pool. */
static void reset_after_fork(void)
{
    pthread_mutex_init(&pool.caller, NULL);
    pthread_mutex_init(&pool.m, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.threads = 0;
    pool.generation = 0;
    pool.remaining = 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void register_fork_handler(void) { pthread_atfork(NULL, NULL, reset_after_fork); }

/* Start pool threads until there are `want` (called with `caller` held, no job running). */
static void grow(int want)
{
    pthread_once(&once, register_fork_handler);
    while (pool.threads < want) {
        struct start *s = &starts[pool.threads + 1];
        s->index = pool.threads + 1;
        s->seen = pool.generation;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, pool_thread, s);
        pthread_attr_destroy(&attr);
        if (failed)
            return;
        pool.threads += 1;
    }
}

int minikws_parallel(int parts, minikws_part_fn fn, void *arg)
{
    if (parts > MINIKWS_MAX_PARTS)
        parts = MINIKWS_MAX_PARTS;
    if (parts <= 1 || pthread_mutex_trylock(&pool.caller) != 0) {
        for (int p = 0; p < parts; ++p) /* one part, or the pool is busy: run them here */
            fn(arg, p, parts);
        return 0;
    }
    grow(parts - 1);
    const int helpers = pool.threads; /* every pool thread acknowledges the job */
    int on_pool = helpers < parts - 1 ? helpers : parts - 1;
    if (helpers > 0) {
        pthread_mutex_lock(&pool.m);
        pool.fn = fn;
        pool.arg = arg;
        pool.parts = parts;
        __atomic_store_n(&pool.remaining, helpers, __ATOMIC_RELAXED);
        __atomic_add_fetch(&pool.generation, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.m);
    }
    fn(arg, 0, parts);
    for (int p = on_pool + 1; p < parts; ++p) /* parts whose thread could not be started */
        fn(arg, p, parts);
    if (helpers > 0) {
        for (int spin = 0; spin < SPIN_ITERATIONS &&
                           __atomic_load_n(&pool.remaining, __ATOMIC_ACQUIRE) != 0; ++spin)
            cpu_relax();
        pthread_mutex_lock(&pool.m);
        while (__atomic_load_n(&pool.remaining, __ATOMIC_ACQUIRE) != 0)
            pthread_cond_wait(&pool.done, &pool.m);
        pthread_mutex_unlock(&pool.m);
    }
    pthread_mutex_unlock(&pool.caller);
    return on_pool;
}

#else

int minikws_parallel(int parts, minikws_part_fn fn, void *arg)
{
    if (parts > MINIKWS_MAX_PARTS)
        parts = MINIKWS_MAX_PARTS;
    for (int p = 0; p < parts; ++p)
        fn(arg, p, parts);
    return 0;
}

#endif
