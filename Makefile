# Builds run.c. `make` is the fastest build that runs on any machine of this architecture: on x86-64 Linux
# run.c's dot product is compiled for SSE2, AVX2 and AVX-512 and the loader picks one (target_clones), so
# -march=native adds little (docs/run.md has the measurements).
#
#   make          ./run        -O3, OpenMP when the compiler has it
#   make native   ./run        also -march=native: runs only on CPUs like the one that built it
#   make debug    ./run_debug  -O0 -g, no OpenMP, for gdb and valgrind
#   make asan     ./run_asan   AddressSanitizer + UndefinedBehaviorSanitizer, any error is fatal
#   make test     the Python test suite (builds what it needs itself)

CC ?= cc
CFLAGS ?= -O3
WARNINGS = -Wall -Wextra
# OpenMP if the compiler accepts -fopenmp. Apple's clang does not (without libomp): run is then single-threaded,
# and -fopenmp-simd still vectorizes the `omp simd` loops.
OPENMP := $(shell for flag in -fopenmp -fopenmp-simd; do \
	printf 'int main(void){return 0;}' | $(CC) $$flag -x c - -o /dev/null 2>/dev/null && echo $$flag && break; done)

.PHONY: all native debug asan test clean

all: run

run: run.c
	$(CC) $(CFLAGS) $(WARNINGS) $(OPENMP) -o run run.c -lm

native: run.c
	$(CC) $(CFLAGS) -march=native $(WARNINGS) $(OPENMP) -o run run.c -lm

debug: run_debug
run_debug: run.c
	$(CC) -O0 -g $(WARNINGS) -Wno-unknown-pragmas -o run_debug run.c -lm

asan: run_asan
run_asan: run.c
	$(CC) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
		$(WARNINGS) $(OPENMP) -o run_asan run.c -lm

test:
	python -m pytest -q tests

clean:
	rm -f run run_debug run_asan
