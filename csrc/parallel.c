/* Fork-join over at most MINIKWS_MAX_PARTS parts; see parallel.h. */
#include "parallel.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define MINIKWS_HAVE_PTHREADS 1
#else
#define MINIKWS_HAVE_PTHREADS 0
#endif

struct job {
    minikws_part_fn fn;
    void *arg;
    int part, parts;
};

#if MINIKWS_HAVE_PTHREADS
static void *run_job(void *p)
{
    struct job *j = (struct job *)p;
    j->fn(j->arg, j->part, j->parts);
    return NULL;
}
#endif

int minikws_parallel(int parts, minikws_part_fn fn, void *arg)
{
    struct job jobs[MINIKWS_MAX_PARTS];
    int started = 0;
    if (parts > MINIKWS_MAX_PARTS)
        parts = MINIKWS_MAX_PARTS;
    for (int p = 0; p < parts; ++p) {
        jobs[p].fn = fn;
        jobs[p].arg = arg;
        jobs[p].part = p;
        jobs[p].parts = parts;
    }
#if MINIKWS_HAVE_PTHREADS
    pthread_t threads[MINIKWS_MAX_PARTS];
    int in_thread[MINIKWS_MAX_PARTS] = {0};
    for (int p = 1; p < parts; ++p) {
        in_thread[p] = pthread_create(&threads[p], NULL, run_job, &jobs[p]) == 0;
        started += in_thread[p];
    }
    fn(arg, 0, parts);
    for (int p = 1; p < parts; ++p) {
        if (in_thread[p])
            pthread_join(threads[p], NULL);
        else
            fn(arg, p, parts); /* the thread could not start: run its part here */
    }
#else
    for (int p = 0; p < parts; ++p)
        fn(arg, p, parts);
#endif
    return started;
}
