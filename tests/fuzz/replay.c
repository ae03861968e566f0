/*
 * replay.c - runs a fuzz target's corpus once, without libFuzzer (gcc build,
 * `make test`): `replay_<target> DIR|FILE...` calls LLVMFuzzerTestOneInput
 * on every file and prints how many it ran. A crash or a broken invariant
 * aborts, so an input that once found a bug fails the suite if the bug
 * comes back.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int
s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;
    if (!f)
        return -errno;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return -EIO;
    }
    buf = malloc(len ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return -EIO;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    size_t runs = 0;
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *de;
            char **names = NULL;
            size_t n = 0;
            if (!d)
                return 2;
            while ((de = readdir(d)) != NULL) {
                char **nn;
                if (de->d_name[0] == '.')
                    continue;
                nn = realloc(names, (n + 1) * sizeof *names);
                if (!nn || !(nn[n] = malloc(strlen(argv[i]) + strlen(de->d_name) + 2)))
                    return 2;
                names = nn;
                sprintf(names[n++], "%s/%s", argv[i], de->d_name);
            }
            closedir(d);
            qsort(names, n, sizeof *names, s_cmp);
            for (size_t k = 0; k < n; k++) {
                if (s_run_file(names[k]) != 0) {
                    fprintf(stderr, "replay: cannot read %s\n", names[k]);
                    return 2;
                }
                runs++;
                free(names[k]);
            }
            free(names);
        } else {
            if (s_run_file(argv[i]) != 0)
                return 2;
            runs++;
        }
    }
    printf("replay %s: %zu inputs, no failure\n", argv[0], runs);
    return 0;
}
