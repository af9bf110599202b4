// Every class of mpipc.hpp against an installed mpipc, with the errors
// each one is expected to throw (tests/install/test_install.sh builds it
// with pkg-config and with CMake). Usage: wrapper_cpp NAME; prints "ok".
#include <mpipc.hpp>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::fprintf(stderr, "wrapper_cpp:%d: CHECK(%s) failed\n", __LINE__, #cond);                              \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

// Runs f, which must throw mpipc::error with `status`.
template <class F> static void expect_error(int line, mp_status status, F f) {
    try {
        f();
        std::fprintf(stderr, "wrapper_cpp:%d: no exception, expected %s\n", line, mp_status_str(status));
        failures++;
    } catch (const mpipc::error &e) {
        // status_name() is mp_status_str()'s "MP_E_X: meaning", as documented.
        const std::string name = e.status_name();
        if (e.status() != status || e.message().empty() || std::string(e.what()).find(name) != 0 ||
            name != mp_status_str(status) || name.rfind("MP_E_", 0) != 0 || name.find(": ") == std::string::npos) {
            std::fprintf(stderr, "wrapper_cpp:%d: got %s, expected %s\n", line, e.what(), mp_status_str(status));
            failures++;
        }
    }
}
#define EXPECT_ERROR(status, ...) expect_error(__LINE__, status, [&] { __VA_ARGS__; })

static mpipc::bytes cbor_text(const std::string &s) { // a short CBOR text string
    mpipc::bytes b{static_cast<std::uint8_t>(0x60 + s.size())};
    b.insert(b.end(), s.begin(), s.end());
    return b;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: wrapper_cpp NAME\n");
        return 2;
    }
    const std::string n = argv[1];
    using std::chrono::milliseconds;

    // Queue: options, batch of calls, JoinableQueue, shutdown.
    {
        mpq_options o{};
        o.maxsize = 1;
        mpipc::Queue q(n, o);
        CHECK(q.options().maxsize == 1 && q.empty() && !q.full());
        q.put(mpipc::bytes{1, 2, 3});
        CHECK(q.full() && q.qsize() == 1);
        EXPECT_ERROR(MP_E_FULL, q.put("x", 1, milliseconds(0)));
        CHECK((q.get() == mpipc::bytes{1, 2, 3}));
        CHECK(!q.join(milliseconds(0)));
        q.task_done();
        CHECK(q.join(milliseconds(0)));
        EXPECT_ERROR(MP_E_INVAL, q.task_done());
        q.shutdown();
        EXPECT_ERROR(MP_E_SHUTDOWN, q.put(std::string_view("late")));
        q.close();
        CHECK(!q);
        EXPECT_ERROR(MP_E_NULL, q.qsize());
        mpipc::Queue::unlink(n);
        EXPECT_ERROR(MP_E_INVAL, mpipc::Queue("bad/name"));
        mpq_options attach{};
        attach.flags = MPQ_ATTACH_ONLY;
        EXPECT_ERROR(MP_E_NOTFOUND, mpipc::Queue(n, attach));
    }

    // Pipe and Connection.
    {
        auto [a, b] = mpipc::Pipe();
        a.send(std::string_view("ping"));
        CHECK(b.poll(milliseconds(1000)));
        CHECK((b.recv() == mpipc::bytes{'p', 'i', 'n', 'g'}));
        CHECK(!b.poll());
        EXPECT_ERROR(MP_E_EMPTY, b.recv(milliseconds(0)));
        CHECK(a.fileno() >= 0);
        a.close();
        CHECK(a.fileno() == -1);
        EXPECT_ERROR(MP_E_EOF, b.recv(milliseconds(1000)));
    }

    // Listener + Connection::connect, with an authkey.
    {
        std::string path = "unix:/tmp/" + n + ".sock";
        mpipc::Listener l(path, "key");
        CHECK(l.address().find(n) != std::string::npos);
        std::thread t([&] {
            mpipc::Connection c = mpipc::Connection::connect(path, "key", milliseconds(5000));
            c.send(std::string_view("hi"));
        });
        mpipc::Connection s = l.accept(milliseconds(5000));
        CHECK((s.recv(milliseconds(5000)) == mpipc::bytes{'h', 'i'}));
        t.join();
        EXPECT_ERROR(MP_E_TIMEOUT, l.accept(milliseconds(10)));
        std::thread acceptor([&] { EXPECT_ERROR(MP_E_AUTH, l.accept(milliseconds(5000))); });
        EXPECT_ERROR(MP_E_AUTH, mpipc::Connection::connect(path, "wrong", milliseconds(5000)));
        acceptor.join();
        EXPECT_ERROR(MP_E_INVAL, mpipc::Listener("nonsense:addr"));
    }

    // ManagerServer + Manager.
    {
        mpipc::ManagerServer srv("unix:/tmp/" + n + ".mgr", "k");
        mpipc::Manager m(srv.address(), "k");
        mpipc::bytes key = cbor_text("hits");
        CHECK(m.dict_incr("d", key, 2) == 2);
        CHECK(m.dict_incr("d", key) == 3);
        m.dict_set("d", cbor_text("s"), cbor_text("v"));
        CHECK(m.dict_get("d", cbor_text("s")) == cbor_text("v"));
        CHECK(m.dict_len("d") == 2);
        m.dict_del("d", cbor_text("s"));
        EXPECT_ERROR(MP_E_NOTFOUND, m.dict_get("d", cbor_text("s")));
        mpipc::bytes args{0x81}; // ["hits"]
        args.insert(args.end(), key.begin(), key.end());
        CHECK((m.call("dict", "d", "get", args) == mpipc::bytes{0x03}));
        EXPECT_ERROR(MP_E_UNSUPPORTED, m.call("dict", "d", "no_such_method", mpipc::bytes{0x80}));
        EXPECT_ERROR(MP_E_AUTH, mpipc::Manager(srv.address(), "wrong"));

        // The typed proxies (mgr::Dict, List, Value, Lock) over CBOR bytes.
        namespace cbor = mpipc::cbor;
        mpipc::mgr::Dict d = m.dict("pd");
        d.set(cbor::text("a"), cbor::integer(-5));
        CHECK(d.incr(cbor::text("a"), 6) == 1);
        CHECK(d.get(cbor::text("a")) == cbor::integer(1));
        CHECK(!d.find(cbor::text("zz")) && d.get(cbor::text("zz"), cbor::null()) == cbor::null());
        EXPECT_ERROR(MP_E_NOTFOUND, d.get(cbor::text("zz")));
        CHECK(d.contains(cbor::text("a")) && d.size() == 1);
        CHECK(!d.compare_and_set(cbor::text("a"), cbor::integer(2), cbor::integer(3)));
        CHECK(d.compare_and_set(cbor::text("a"), cbor::integer(1), cbor::text("x")));
        EXPECT_ERROR(MP_E_TYPE, d.incr(cbor::text("a")));
        d.update({{cbor::text("b"), cbor::boolean(true)}});
        CHECK((d.keys() == std::vector<mpipc::bytes>{cbor::text("a"), cbor::text("b")}));
        CHECK(d.items().size() == 2 && d.items()[1].second == cbor::boolean(true));
        CHECK(d.setdefault(cbor::text("c"), cbor::integer(7)) == cbor::integer(7));
        CHECK(d.pop(cbor::text("c")) == cbor::integer(7) && d.values().size() == 2);
        d.del(cbor::text("b"));
        d.clear();
        CHECK(d.size() == 0);
        EXPECT_ERROR(MP_E_TYPE, m.list("pd").size()); // a dict by that name: kind mismatch
        mpipc::mgr::List l = m.list("pl");
        l.extend({cbor::integer(3), cbor::integer(1)});
        l.append(cbor::integer(2));
        l.insert(0, cbor::integer(9));
        l.sort();
        CHECK((l.copy() == std::vector<mpipc::bytes>{cbor::integer(1), cbor::integer(2), cbor::integer(3),
                                                      cbor::integer(9)}));
        CHECK(l.get(-1) == cbor::integer(9) && l.index(cbor::integer(2)) == 1 && l.count(cbor::integer(3)) == 1);
        l.set(0, cbor::text("z"));
        l.remove(cbor::integer(2));
        l.del(0);
        l.reverse();
        CHECK(l.pop() == cbor::integer(3) && l.size() == 1 && l.contains(cbor::integer(9)));
        CHECK(l.slice(0, 10).size() == 1);
        EXPECT_ERROR(MP_E_INDEX, l.get(5));
        EXPECT_ERROR(MP_E_NOTFOUND, l.remove(cbor::integer(42)));
        l.clear();
        EXPECT_ERROR(MP_E_INDEX, l.pop());
        mpipc::mgr::Value v = m.value("pv");
        CHECK(v.get() == cbor::null() && v.incr(4) == 4);
        CHECK(v.compare_and_set(cbor::integer(4), cbor::text("t")) && v.get() == cbor::text("t"));
        v.set(cbor::integer(1));
        CHECK(v.incr(-2) == -1);
        mpipc::mgr::Lock lk = m.lock("plk");
        {
            auto g = lk.hold();
            CHECK(g.owns_lock() && lk.locked());
            EXPECT_ERROR(MP_E_INVAL, lk.acquire(milliseconds(0))); // already held by this connection
            mpipc::Manager other(srv.address(), "k");
            mpipc::mgr::Lock lk2 = other.lock("plk");
            CHECK(!lk2.acquire(milliseconds(0)));
            EXPECT_ERROR(MP_E_TIMEOUT, (void)lk2.hold(milliseconds(10)));
            EXPECT_ERROR(MP_E_PERM, lk2.release());
        }
        CHECK(!lk.locked());
        {
            std::lock_guard<mpipc::mgr::Lock> g(lk);
            CHECK(lk.locked());
        }
        mpipc::mgr::Lock rl = m.lock("prl", true);
        CHECK(rl.acquire() && rl.acquire());
        rl.release();
        CHECK(rl.locked());
        rl.release();
        CHECK(!rl.locked());
        EXPECT_ERROR(MP_E_TYPE, mpipc::cbor::split_array(cbor::integer(1)));
        EXPECT_ERROR(MP_E_INVAL, mpipc::cbor::split_array(mpipc::bytes{0x82, 0x01}));
    }

    // SharedMemory.
    {
        mpipc::SharedMemory s(n, 4096);
        CHECK(s.size() == 4096);
        std::memcpy(s.data(), "abc", 3);
        mpipc::SharedMemory s2(n, 0);
        CHECK(std::memcmp(s2.data(), "abc", 3) == 0);
        EXPECT_ERROR(MP_E_INVAL, mpipc::SharedMemory(n, 10));
        mpipc::SharedMemory::unlink(n);
        EXPECT_ERROR(MP_E_NOTFOUND, mpipc::SharedMemory::unlink(n));
    }

    // Array / Value, Lockable.
    {
        mpipc::Array a(n, 'd', 4);
        CHECK(a.size() == 4 && a.typecode() == 'd' && a.itemsize() == 8);
        a.set_f64(1, 2.5);
        CHECK(a.get_f64(1) == 2.5);
        double buf[4];
        a.read(0, buf, 4);
        CHECK(buf[1] == 2.5);
        buf[3] = 7;
        a.write(0, buf, 4);
        CHECK(static_cast<double *>(a.data())[3] == 7);
        {
            std::lock_guard<mpipc::Array> g(a);
            CHECK(!a.owner_died());
        }
        CHECK(a.try_lock());
        a.unlock();
        EXPECT_ERROR(MP_E_INDEX, a.get_f64(4));
        mpipc::Array::unlink(n);
        mpipc::Array v = mpipc::Array::value(n, 'q');
        CHECK(v.incr(0, 5) == 5 && v.get_i64(0) == 5);
        v.set_u64(0, 9);
        CHECK(v.get_u64(0) == 9);
        EXPECT_ERROR(MP_E_TYPE, mpipc::Array(n, 'd', 1));
        mpipc::Array::unlink(n);
    }

    // Lock, Condition, Semaphore, Event, Barrier.
    {
        mpipc::Lock l(n);
        mpipc::Condition c(n);
        CHECK(l.try_lock());
        CHECK(!c.wait(l, milliseconds(10))); // times out, lock re-held
        l.unlock();
        EXPECT_ERROR(MP_E_PERM, l.unlock());
        EXPECT_ERROR(MP_E_PERM, c.wait(l, milliseconds(10)));
        c.notify();
        c.notify_all();
        {
            std::unique_lock<mpipc::Lock> g(l);
            CHECK(g.owns_lock());
        }
        // A holder killed while holding: the next acquire takes it over.
        pid_t pid = fork();
        if (pid == 0) {
            mpipc::Lock cl(n);
            cl.lock();
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        CHECK(l.acquire(milliseconds(5000)) && l.owner_died());
        l.release();
        mpipc::Lock::unlink(n);
        mpipc::Condition::unlink(n);

        mpipc::Semaphore s(n, 1, MP_SEM_BOUNDED);
        CHECK(s.value() == 1 && s.acquire(milliseconds(0)) && !s.acquire(milliseconds(0)));
        s.release();
        EXPECT_ERROR(MP_E_INVAL, s.release());
        mpipc::Semaphore::unlink(n);

        mpipc::Event e(n);
        CHECK(!e.is_set() && !e.wait(milliseconds(0)));
        e.set();
        CHECK(e.is_set() && e.wait());
        e.clear();
        mpipc::Event::unlink(n);

        mpipc::Barrier b(n, 2);
        CHECK(b.parties() == 2 && b.n_waiting() == 0 && !b.broken());
        std::thread t([&] { mpipc::Barrier(n, 2).wait(milliseconds(5000)); });
        std::uint32_t i = b.wait(milliseconds(5000));
        t.join();
        CHECK(i < 2);
        EXPECT_ERROR(MP_E_BROKEN, b.wait(milliseconds(10)));
        CHECK(b.broken());
        b.reset();
        b.abort();
        EXPECT_ERROR(MP_E_BROKEN, b.wait(milliseconds(0)));
        mpipc::Barrier::unlink(n);
    }

    // ShareableList.
    {
        mpipc::bytes items{0x82, 0x01, 0x63, 'a', 'b', 'c'}; // [1, "abc"]
        mpipc::ShareableList l(n, items);
        CHECK(l.size() == 2);
        CHECK((l.get(0) == mpipc::bytes{0x01}));
        l.set(1, cbor_text("xyz"));
        mpipc::ShareableList l2 = mpipc::ShareableList::attach(n);
        CHECK(l2.get(1) == cbor_text("xyz") && l2.capacity(1) >= 3);
        EXPECT_ERROR(MP_E_INDEX, l.get(2));
        EXPECT_ERROR(MP_E_TYPE, l.set(0, mpipc::bytes{0x80}));
        mpipc::ShareableList::unlink(n);
        EXPECT_ERROR(MP_E_NOTFOUND, mpipc::ShareableList::attach(n));
    }

    if (failures != 0) {
        std::fprintf(stderr, "wrapper_cpp: %d failure(s)\n", failures);
        return 1;
    }
    std::printf("ok\n");
    return 0;
}
