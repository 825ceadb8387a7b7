# ponder — one non-recursive Makefile.
#   make              build bin/ponder (CPU always; CUDA objects too when nvcc is found)
#   make test         build and run every test that needs no GPU (GPU tests print SKIP)
#   make check-tsan   ThreadSanitizer build of the pool, kernel, KV-store and serve tests, run
#   make check-asan   ASan + UBSan build of everything, the whole suite run on it
#   make bench        build and run the benchmarks under tools/
#   make fuzz         build the libFuzzer harnesses (clang) into build/fuzz/
#   make install      PREFIX=/usr/local DESTDIR= : binary, man page, themes, demo model
# Options: CUDA=0|1 (default: 1 when nvcc is found), CUDA_ARCH=90, CI=1 adds -Werror.

PREFIX   ?= /usr/local
# Another BUILD and PONDER (say build/asan, bin/ponder-asan) keep a second build apart;
# the binary stays in bin/ so that it finds models/demo and themes/ beside it.
PONDER   ?= bin/ponder
DESTDIR  ?=
BUILD    ?= build
DATADIR  ?= $(PREFIX)/share/ponder

CC       ?= cc
PKGS     := jansson libpcre2-8 sqlite3 ncursesw libedit libutf8proc libxxhash libcurl \
            libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
# -Wno-format-truncation: snprintf into fixed buffers is how messages are cut on purpose.
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -Wno-format-truncation \
            -pthread -I. $(PKG_CFLAGS) -MMD -MP \
            -DPONDER_DATADIR='"$(DATADIR)"'
ifneq ($(CI),)
CFLAGS   += -Werror
endif
LDLIBS   += $(PKG_LIBS) -lm -pthread
# Sanitizer flags for check-tsan / check-asan, added to compiling and linking alike (an
# -O there comes last and wins). Those builds drop -Werror: -O1 brings false positives.
SANITIZE ?=
CFLAGS   += $(SANITIZE)
LDFLAGS  += $(SANITIZE)

# SIMD variants are separate files compiled for their instruction set and chosen at
# run time, so the binary still runs on a CPU without them.
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c

# CUDA: built when nvcc is found unless CUDA=0; the architecture is never guessed.
NVCC      ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_ARCH ?= 90
ifeq ($(CUDA),)
CUDA := $(if $(NVCC),1,0)
endif

LIB_SRC  := $(filter-out app/main.c,$(wildcard app/*.c)) $(wildcard engine/*.c) \
            $(wildcard common/*.c) $(wildcard kernels/*.c) $(wildcard kernels/cpu/*.c) \
            $(wildcard history/*.c) $(wildcard net/*.c) $(wildcard ui/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)

CU_SRC   := $(wildcard kernels/cuda/*.cu)
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
LIB_OBJ  := $(filter-out $(BUILD)/kernels/gpu_none.o,$(LIB_OBJ)) $(CU_SRC:%.cu=$(BUILD)/%.o)
CFLAGS   += -DPONDER_CUDA=1 -I$(CUDA_HOME)/include
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
NVFLAGS  ?= -O2 -std=c++17 -I. -gencode arch=compute_$(CUDA_ARCH),code=sm_$(CUDA_ARCH) \
            -Xcompiler -Wall,-Wextra,-Wno-format-truncation,-fPIC -MMD -MP
endif

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard tools/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tools/%.c=$(BUILD)/tools/%)
FUZZ_SRC := $(wildcard tools/fuzz_*.c)

.PHONY: all test bench fuzz install clean check-tsan check-asan
all: $(PONDER)

$(PONDER): $(BUILD)/app/main.o $(BUILD)/libponder.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/libponder.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%_avx2.o: %_avx2.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(AVX2_FLAGS) -c -o $@ $<

$(BUILD)/%_avx512.o: %_avx512.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(AVX512_FLAGS) -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c tests/check.h $(BUILD)/libponder.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libponder.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: tools/%.c $(BUILD)/libponder.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libponder.a $(LDFLAGS) $(LDLIBS)

test: $(PONDER) $(TEST_BIN)
	@BUILD=$(BUILD) BIN=$(PONDER) SKIP_TESTS="$(SKIP_TESTS)" sh tests/run.sh

# ThreadSanitizer over the thread pool, every kernel that runs on it, the KV store's
# background writer, ponder serve's queue and the remote client's cancellation. TESTS
# limits tests/run.sh to these binaries.
TSAN_TESTS := test_pool test_pool_stress test_kernels test_kern_quant test_kv_store \
              test_serve_stress test_oai_client
check-tsan:
	$(MAKE) BUILD=$(BUILD)/tsan PONDER=bin/ponder-tsan CUDA=0 CI= \
	  SANITIZE="-O1 -fsanitize=thread" $(TSAN_TESTS:%=$(BUILD)/tsan/tests/%)
	@BUILD=$(BUILD)/tsan TESTS="$(TSAN_TESTS:%=$(BUILD)/tsan/tests/%)" \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" sh tests/run.sh

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite, the binary that the
# end-to-end scripts drive included (no CUDA objects: they are not ASan-instrumented).
# Left out: the demo model's accuracy evaluation, 1000 prompts down the same code paths
# as e2e_pipe.sh, which takes about 8 minutes under ASan and adds no path, and the
# fuzz-harness build check, which builds with its own sanitizers. The screen tests wait
# four times longer (TEST_TIME_SCALE).
check-asan:
	TEST_TIME_SCALE=4 $(MAKE) BUILD=$(BUILD)/asan PONDER=bin/ponder-asan CUDA=0 CI= \
	  SANITIZE="-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  SKIP_TESTS="e2e_demo_eval.sh e2e_fuzz_build.sh" test

bench: $(PONDER) $(BENCH_BIN)
	@BUILD=$(BUILD) sh tools/bench.sh

# libFuzzer harnesses: clang with -fsanitize=fuzzer,address,undefined over only the
# sources the harnesses call (not the whole library: SIMD and CUDA files do not belong
# in a fuzz build). A new harness that needs more adds its files to FUZZ_LIB_SRC.
# docs/fuzzing.md lists the harnesses and how to run them; seeds: tools/fuzz/corpus/.
FUZZ_CC ?= clang
FUZZ_LIB_SRC := engine/safetensors.c engine/config.c engine/config_json.c engine/config_dense.c \
  common/err.c common/json_text.c common/marker.c common/utf8.c engine/checkpoint.c engine/ckpt_files.c \
  engine/tokenizer.c engine/tok_added.c engine/tok_bpe.c engine/tok_json.c engine/tok_load.c \
  engine/tok_pretok.c engine/detok_stream.c engine/channels.c engine/kv_type.c engine/head_type.c \
  app/options.c app/paths.c \
  app/term_safe.c ui/theme.c ui/render_md.c ui/width.c \
  net/oai_request.c net/oai_reply.c net/sse.c net/oai_stream.c
fuzz: $(FUZZ_SRC:tools/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tools/%.c $(FUZZ_LIB_SRC) $(wildcard common/*.h engine/*.h net/*.h app/*.h ui/*.h tests/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -I. $(PKG_CFLAGS) -DPONDER_DATADIR='"$(DATADIR)"' \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $< \
	  $(FUZZ_LIB_SRC) $(PKG_LIBS) -lm -pthread

install: $(PONDER)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(DATADIR)/themes $(DESTDIR)$(DATADIR)/models/demo
	install -m 755 $(PONDER) $(DESTDIR)$(PREFIX)/bin/ponder
	install -m 644 man/ponder.1 $(DESTDIR)$(PREFIX)/share/man/man1/ponder.1
	for f in themes/*; do [ -f "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DATADIR)/themes/ || true; done
	for f in models/demo/*; do [ -f "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DATADIR)/models/demo/ || true; done

clean:
	rm -rf $(BUILD) bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
