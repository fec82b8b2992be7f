# tickring - one entry point: all, run, test, bench, install, clean.
#
#   make                  build everything into build/
#   make SANITIZER=address|undefined|thread   build into build-<sanitizer>/
#   make test             build, then run every test (plain, ASan+UBSan, TSan)
#   make bench            run the benchmarks, write bench/results/*.json
#   make install PREFIX=/usr/local DESTDIR=
#
# Dependencies come from Debian packages through pkg-config; when one is
# missing, tools/install-deps.sh installs it (see README).

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CXX ?= g++
SANITIZER ?=
PKGS = criterion liburing libwebsockets simdjson zlib libcjson rdkafka hiredis
BUILD = build$(if $(SANITIZER),-$(SANITIZER))

WARN = -Wall -Wextra -Wshadow -Wundef -Wmissing-prototypes -Wstrict-prototypes \
       -Wpointer-arith -Wwrite-strings -Wformat=2 -Wvla -Wno-missing-field-initializers
OPT ?= -O2
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 -fPIC $(WARN) $(CFLAGS) -Ishm -Iclients/lib -MMD -MP
LDLIBS = -lpthread

ifeq ($(SANITIZER),address)
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SANITIZER),undefined)
SANFLAGS = -fsanitize=undefined -fno-sanitize-recover=undefined
else ifeq ($(SANITIZER),thread)
# GCC warns that TSan does not model atomic_thread_fence; the ring's payload
# accesses are all atomic, so TSan checks them without needing the fences.
SANFLAGS = -fsanitize=thread $(if $(findstring clang,$(shell $(CC) --version)),,-Wno-tsan)
else ifneq ($(SANITIZER),)
$(error SANITIZER must be address, undefined or thread)
endif
ALL_CFLAGS += $(SANFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
# The simdjson shim: C++17 without exceptions or RTTI, plain C entry points.
CXXWARN = -Wall -Wextra -Wshadow -Wundef -Wpointer-arith -Wno-missing-field-initializers
ALL_CXXFLAGS = -std=c++17 -fPIC -fno-exceptions -fno-rtti $(CXXWARN) $(CFLAGS) -Ishm \
	-Iclients/lib -Iengine $(SIMDJSON_CFLAGS) -MMD -MP $(SANFLAGS)
ALL_CFLAGS += -Iengine -Imirror

# Evaluated lazily, after the deps stamp has run.
CRITERION_CFLAGS = $(shell pkg-config --cflags criterion)
CRITERION_LIBS = $(shell pkg-config --libs criterion)
SIMDJSON_CFLAGS = $(shell pkg-config --cflags simdjson)
ENGINE_LIBS = $(shell pkg-config --libs liburing libwebsockets simdjson zlib rdkafka hiredis) \
	-lstdc++ -lm
CJSON_CFLAGS = $(shell pkg-config --cflags libcjson)
CJSON_LIBS = $(shell pkg-config --libs libcjson)

LIB_SRC = shm/tr_err.c shm/tr_fixed.c shm/tr_layout.c shm/tr_reader.c $(wildcard clients/lib/*.c)
WRITER_SRC = shm/tr_writer.c
CLI_SRC = $(wildcard clients/cli/*.c)
TEST_SRC = $(wildcard tests/test_*.c)
TOOL_SRC = $(wildcard tools/*.c)
BENCH_SRC = $(wildcard bench/*.c)
EXAMPLE_SRC = $(wildcard clients/examples/*.c)
# engine/ and mirror/: everything but main() goes into libtrengine.a, which
# tests, benchmarks and tools link too.
ENGINE_C_SRC = $(filter-out engine/tickringd.c,$(wildcard engine/*.c)) $(wildcard mirror/*.c)
ENGINE_CXX_SRC = $(wildcard engine/*.cpp)
EXSIM_SRC = $(wildcard tools/exsim/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ = $(call obj,$(LIB_SRC))
WRITER_OBJ = $(call obj,$(WRITER_SRC))
SOVER = 1
LIBA = $(BUILD)/libtickring.a
LIBSO = $(BUILD)/libtickring.so.$(SOVER)
WRITERA = $(BUILD)/libtrwriter.a
ENGINE_OBJ = $(call obj,$(ENGINE_C_SRC)) $(patsubst %.cpp,$(BUILD)/obj/%.o,$(ENGINE_CXX_SRC))
ENGINEA = $(BUILD)/libtrengine.a
TICKRINGD = $(if $(wildcard engine/tickringd.c),$(BUILD)/tickringd)
EXSIM = $(if $(EXSIM_SRC),$(BUILD)/exsim)
CLI = $(if $(CLI_SRC),$(BUILD)/tickring)
TOOLS = $(patsubst tools/%.c,$(BUILD)/%,$(TOOL_SRC))
BENCHES = $(patsubst bench/%.c,$(BUILD)/bench-%,$(BENCH_SRC))
EXAMPLES = $(patsubst clients/examples/%.c,$(BUILD)/example-%,$(EXAMPLE_SRC))
UNIT = $(BUILD)/tests/unit
# The threaded ring suites without Criterion, which cannot start under TSan.
TSHIM = $(BUILD)/tests/tsan-ring
TSHIM_SRC = tests/test_stress.c tests/tshim.c
DEPS_STAMP = .deps-ok

.PHONY: all run test bench install clean deps check-format fuzz
all: $(LIBA) $(LIBSO) $(WRITERA) $(ENGINEA) $(TICKRINGD) $(EXSIM) $(CLI) $(TOOLS) $(BENCHES) \
     $(EXAMPLES) $(UNIT)

# Install missing Debian packages once; re-checked when the list changes.
$(DEPS_STAMP): tools/install-deps.sh
	@if command -v pkg-config >/dev/null && pkg-config --exists $(PKGS) && \
	    command -v python3 >/dev/null && command -v clang >/dev/null && \
	    command -v redis-server >/dev/null && command -v kcat >/dev/null && \
	    dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then :; \
	else tools/install-deps.sh; fi
	@touch $@
deps: $(DEPS_STAMP)

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

$(BUILD)/obj/bench/%.o: bench/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CJSON_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CRITERION_CFLAGS) -Itests -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libtickring.so.$(SOVER) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf libtickring.so.$(SOVER) $(BUILD)/libtickring.so

$(WRITERA): $(WRITER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(ENGINEA): $(ENGINE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tickringd: $(BUILD)/obj/engine/tickringd.o $(ENGINEA) $(WRITERA) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ENGINE_LIBS) $(LDLIBS)

$(BUILD)/exsim: $(call obj,$(EXSIM_SRC)) $(ENGINEA) $(WRITERA) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ENGINE_LIBS) $(LDLIBS)

$(CLI): $(call obj,$(CLI_SRC)) $(ENGINEA) $(WRITERA) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ENGINE_LIBS) $(LDLIBS)

$(TOOLS): $(BUILD)/%: $(BUILD)/obj/tools/%.o $(ENGINEA) $(WRITERA) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ENGINE_LIBS) $(LDLIBS)

$(BENCHES): $(BUILD)/bench-%: $(BUILD)/obj/bench/%.o $(ENGINEA) $(WRITERA) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ENGINE_LIBS) $(CJSON_LIBS) $(LDLIBS)

$(EXAMPLES): $(BUILD)/example-%: $(BUILD)/obj/clients/examples/%.o $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/tshim/%.o: tests/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-format-zero-length -DTR_TSHIM -Itests -c $< -o $@

$(TSHIM): $(patsubst tests/%.c,$(BUILD)/obj/tshim/%.o,$(TSHIM_SRC)) $(WRITERA) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lm

$(UNIT): $(call obj,$(TEST_SRC)) $(ENGINEA) $(WRITERA) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(ENGINE_LIBS) $(LDLIBS)

# make test: the plain build runs every test; TSan runs the threaded ring
# suite (where it has something to say); ASan+UBSan runs everything again and
# ends the run with Criterion's synthesis line.
JOBS = -j2
FUZZ_SMOKE_RUNS = 200000
test: all
	tests/run.sh $(BUILD)
	$(MAKE) --no-print-directory $(FUZZ_BIN)
	@mkdir -p build-fuzz/corpus
	$(FUZZ_BIN) -runs=$(FUZZ_SMOKE_RUNS) -max_len=65536 build-fuzz/corpus tests/fuzz/seeds \
		2>build-fuzz/smoke.log || { tail -40 build-fuzz/smoke.log; exit 1; }
	@grep -h "Done" build-fuzz/smoke.log
	$(MAKE) --no-print-directory $(JOBS) SANITIZER=thread build-thread/tests/tsan-ring
	TSAN_OPTIONS="halt_on_error=1" build-thread/tests/tsan-ring ring_threads
	$(MAKE) --no-print-directory $(JOBS) SANITIZER=address all
	tests/run.sh build-address

bench: all
	bench/run.sh $(BUILD)

run: all
	tools/run.sh $(BUILD)

install: $(LIBA) $(LIBSO) $(CLI) $(TICKRINGD) $(EXSIM) $(BUILD)/tr-synth
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/tickring $(DESTDIR)$(PREFIX)/share/tickring/python
	install -m 755 $(CLI) $(TICKRINGD) $(EXSIM) $(BUILD)/tr-synth $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtickring.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libtickring.so
	install -m 644 shm/tr_abi.h shm/tr_err.h shm/tr_fixed.h shm/tr_reader.h shm/tr_layout.h \
		$(wildcard clients/lib/*.h) $(DESTDIR)$(PREFIX)/include/tickring/
	install -m 644 clients/python/tickring.py $(DESTDIR)$(PREFIX)/share/tickring/python/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' clients/tickring.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/tickring.pc

# Fuzzing the venue extractors: libFuzzer needs clang. `make fuzz` runs for
# FUZZ_SECONDS; make test runs a short pass (see tests/fuzz/README.md).
FUZZ_SECONDS ?= 600
FUZZ_SRC = $(wildcard tests/fuzz/*.cpp)
FUZZ_DEPS = $(ENGINE_CXX_SRC) shm/tr_fixed.c
FUZZ_BIN = build-fuzz/fuzz-parse
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -Ishm -Iengine $(SIMDJSON_CFLAGS)
$(FUZZ_BIN): $(FUZZ_SRC) $(FUZZ_DEPS) | $(DEPS_STAMP)
	@mkdir -p build-fuzz
	clang -c $(FUZZ_FLAGS) -std=gnu11 shm/tr_fixed.c -o build-fuzz/tr_fixed.o
	clang++ $(FUZZ_FLAGS) -std=c++17 -fno-exceptions -fno-rtti $(FUZZ_SRC) $(ENGINE_CXX_SRC) \
		build-fuzz/tr_fixed.o -o $@ $(shell pkg-config --libs simdjson)
fuzz: $(FUZZ_BIN)
	@mkdir -p build-fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus tests/fuzz/seeds

check-format:
	clang-format --dry-run -Werror shm/*.[ch] clients/*/*.[ch] engine/*.[ch] mirror/*.[ch] tests/*.c tools/*.c \
		tools/exsim/*.[ch] bench/*.c

clean:
	rm -rf build build-address build-undefined build-thread build-fuzz $(DEPS_STAMP)

-include $(shell find build* -name '*.d' 2>/dev/null)
