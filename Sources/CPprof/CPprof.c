#include "CPprof.h"

#include <link.h>
#include <sys/auxv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__thread void *CPprof_threadState __attribute__((tls_model("initial-exec"))) = NULL;

__thread int32_t CPprof_idleDepth __attribute__((tls_model("initial-exec"))) = 0;

uint8_t CPprof_modeFlag = 255;

uint8_t CPprof_taskContextsSeen = 0;

void CPprof_threadName(char *buffer, size_t capacity) {
    if (capacity == 0) return;
    if (pthread_getname_np(pthread_self(), buffer, capacity) != 0) buffer[0] = 0;
}

void CPprof_setThreadName(const char *name) {
    pthread_setname_np(pthread_self(), name);
}

int64_t CPprof_threadKernelID(void) {
    return (int64_t)gettid();
}

// Exported by libswift_Concurrency with the Swift calling convention; it takes no argument and
// returns a pointer, so the declaration needs only the attribute.
__attribute__((swiftcall)) extern void *swift_task_getCurrent(void);

void *CPprof_currentOwner(void) {
    void *task = swift_task_getCurrent();
    if (task) return task;
    // Outside a task, the thread: a pthread_t is an aligned address, so with its low bit set it
    // can never equal a task's.
    return (void *)((uintptr_t)pthread_self() | 1);
}

struct buildIDSearch {
    uint8_t *buffer;
    size_t capacity;
    size_t length;
};

static int readBuildID(struct dl_phdr_info *info, uint8_t *buffer, size_t capacity, size_t *length);

static int findBuildID(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct buildIDSearch *search = data;
    // The first object dl_iterate_phdr reports is the main program.
    readBuildID(info, search->buffer, search->capacity, &search->length);
    return 1; // only the main program
}

size_t CPprof_buildID(uint8_t *buffer, size_t capacity) {
    struct buildIDSearch search = {buffer, capacity, 0};
    dl_iterate_phdr(findBuildID, &search);
    return search.length;
}

static int readBuildID(struct dl_phdr_info *info, uint8_t *buffer, size_t capacity, size_t *length) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *phdr = &info->dlpi_phdr[i];
        if (phdr->p_type != PT_NOTE) continue;
        const uint8_t *note = (const uint8_t *)(info->dlpi_addr + phdr->p_vaddr);
        const uint8_t *end = note + phdr->p_memsz;
        while (note + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nhdr = (const ElfW(Nhdr) *)note;
            const uint8_t *name = note + sizeof(ElfW(Nhdr));
            const uint8_t *desc = name + ((nhdr->n_namesz + 3) & ~3u);
            if (desc + nhdr->n_descsz > end) break;
            if (nhdr->n_type == NT_GNU_BUILD_ID && nhdr->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                size_t n = nhdr->n_descsz < capacity ? nhdr->n_descsz : capacity;
                memcpy(buffer, desc, n);
                *length = n;
                return 1;
            }
            note = desc + ((nhdr->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

struct objectSearch {
    uintptr_t address;
    CPprof_Object *object;
    int index;
    int found;
    int mainOnly;
};

static void describeObject(struct dl_phdr_info *info, int isMain, CPprof_Object *object) {
    object->isMain = isMain;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    size_t n = strlen(name);
    if (n >= sizeof object->path) n = sizeof object->path - 1;
    memcpy(object->path, name, n);
    object->path[n] = 0;
    object->bias = info->dlpi_addr;
    object->buildIDLength = 0;
    readBuildID(info, object->buildID, sizeof object->buildID, &object->buildIDLength);
    object->textStart = 0;
    object->textLimit = 0;
    object->textOffset = 0;
    // The segment at its link-time address (the load bias taken off), page-aligned as the
    // kernel maps it: Go's `go tool pprof` does not relocate a location's address into its
    // object (its ObjAddr is the identity), and google/pprof's base for such a mapping is 0, so
    // both find the code at the object's own addresses.
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *phdr = &info->dlpi_phdr[i];
        if (phdr->p_type != PT_LOAD || !(phdr->p_flags & PF_X)) continue;
        uintptr_t start = phdr->p_vaddr;
        object->textStart = start & ~(page - 1);
        object->textLimit = (start + phdr->p_memsz + page - 1) & ~(page - 1);
        object->textOffset = phdr->p_offset & ~(uint64_t)(page - 1);
        break;
    }
}

static int findObject(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct objectSearch *search = data;
    int index = search->index++;
    // The first object dl_iterate_phdr reports is the main program (its name is "").
    if (search->mainOnly) {
        describeObject(info, 1, search->object);
        search->found = 1;
        return 1;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *phdr = &info->dlpi_phdr[i];
        if (phdr->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + phdr->p_vaddr;
        if (search->address < start || search->address >= start + phdr->p_memsz) continue;
        describeObject(info, index == 0, search->object);
        search->found = 1;
        return 1;
    }
    return 0;
}

int CPprof_objectForAddress(uintptr_t address, CPprof_Object *object) {
    struct objectSearch search = {address, object, 0, 0, 0};
    dl_iterate_phdr(findObject, &search);
    return search.found;
}

uintptr_t CPprof_entryPoint(void) {
    return (uintptr_t)getauxval(AT_ENTRY);
}

int CPprof_mainObject(CPprof_Object *object) {
    struct objectSearch search = {0, object, 0, 0, 1};
    dl_iterate_phdr(findObject, &search);
    return search.found;
}

#include <execinfo.h>

int CPprof_backtrace(void **buffer, int capacity) {
    return backtrace(buffer, capacity);
}

static pthread_key_t exitKey;

int CPprof_installThreadExitHook(void (*destructor)(void *)) {
    return pthread_key_create(&exitKey, destructor);
}

void CPprof_registerThreadExit(void *state) {
    pthread_setspecific(exitKey, state);
}


#include <errno.h>
#include <signal.h>

static int forwardFD = -1;

static void forwardHandler(int sig) {
    // Only async-signal-safe work here: the profile is encoded on another thread.
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    ssize_t ignored = write(forwardFD, &byte, 1);
    (void)ignored;
    errno = saved;
}

int CPprof_forwardSignalIfDefault(int sig, int fd) {
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0) return 0;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) return 0;
    forwardFD = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forwardHandler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(sig, &action, NULL) == 0;
}

void CPprof_restoreDefaultAndRaise(int sig) {
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

// libstdc++'s demangler, which every Swift program has loaded (the runtime links it); weak, so
// that an object without it still links, and names stay mangled.
extern char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status) __attribute__((weak));

char *CPprof_demangleCxx(const char *mangled) {
    if (!__cxa_demangle) return NULL;
    int status = 0;
    char *result = __cxa_demangle(mangled, NULL, NULL, &status);
    if (status != 0) {
        free(result);
        return NULL;
    }
    return result;
}
