"""Grad mode: no_grad is per thread, works as a bare decorator and with parentheses, and on a
generator function applies inside the generator's body (PyTorch's semantics for all three)."""

import threading

import pytest

import npsoftmax as nps
from npsoftmax.autograd import is_grad_enabled


def run_in_thread(target):
    thread = threading.Thread(target=target)
    thread.start()
    return thread


# -- threads ------------------------------------------------------------------------------------
def test_no_grad_in_one_thread_leaves_another_recording():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with nps.no_grad():
            seen["worker"] = is_grad_enabled()
            inside.set()
            release.wait(timeout=30)

    thread = run_in_thread(worker)
    try:
        assert inside.wait(timeout=30)
        # The worker is inside its no_grad block right now.
        w = nps.tensor([1.0, 2.0], requires_grad=True)
        y = (w * 3).sum()
        assert is_grad_enabled() and y.requires_grad
        y.backward()
        assert w.grad.tolist() == [3.0, 3.0]
    finally:
        release.set()
        thread.join()
    assert seen["worker"] is False


def test_a_new_thread_records_even_when_its_parent_is_in_no_grad():
    seen = {}

    def worker():
        w = nps.tensor([1.0], requires_grad=True)
        seen["enabled"], seen["requires_grad"] = is_grad_enabled(), (w * 2).requires_grad

    with nps.no_grad():
        run_in_thread(worker).join()
        assert not is_grad_enabled()
    assert seen == {"enabled": True, "requires_grad": True}


# -- decorators ---------------------------------------------------------------------------------
def test_one_instance_shared_by_two_threads_keeps_their_modes_apart():
    # Thread A (recording) enters the shared block, then thread B (already in no_grad) enters
    # it; A leaves first, then B.  A must record again and B must still not record.
    shared = nps.no_grad()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with shared:
            a_in.set()
            b_in.wait(10)
        seen["a after"] = is_grad_enabled()
        a_out.set()

    def thread_b():
        with nps.no_grad():
            a_in.wait(10)
            with shared:
                b_in.set()
                a_out.wait(10)
            seen["b after"] = is_grad_enabled()

    threads = [threading.Thread(target=f) for f in (thread_a, thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"a after": True, "b after": False}


def test_bare_decorator_and_decorator_with_parentheses():
    w = nps.tensor([1.0], requires_grad=True)

    @nps.no_grad
    def bare(x):
        """Doc."""
        assert not is_grad_enabled()
        return w * x

    @nps.no_grad()
    def called(x):
        return w * x

    assert not bare(2.0).requires_grad and not called(2.0).requires_grad
    assert bare.__name__ == "bare" and bare.__doc__ == "Doc."
    assert is_grad_enabled()


def test_decorated_function_restores_the_mode_after_an_exception():
    @nps.no_grad
    def fails():
        raise KeyError

    with pytest.raises(KeyError):
        fails()
    assert is_grad_enabled()


def test_no_grad_refuses_a_non_callable_argument():
    with pytest.raises(TypeError, match="no_grad takes no arguments"):
        nps.no_grad(42)


def test_one_instance_can_be_entered_twice():
    block = nps.no_grad()
    with block:
        with block:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


# -- generators ---------------------------------------------------------------------------------
@pytest.mark.parametrize("decorate", [nps.no_grad, nps.no_grad()], ids=["bare", "called"])
def test_decorated_generator_runs_its_body_under_no_grad(decorate):
    w = nps.tensor([1.0], requires_grad=True)
    modes_inside = []

    @decorate
    def batches(n):
        for i in range(n):
            modes_inside.append(is_grad_enabled())
            yield w * i
        return "done"

    results, modes_outside = [], []
    for b in batches(3):
        results.append(b.requires_grad)
        modes_outside.append(is_grad_enabled())  # the caller's own mode between steps
    assert results == [False, False, False]
    assert modes_inside == [False, False, False]
    assert modes_outside == [True, True, True]

    def delegate():
        return (yield from batches(1))

    gen = delegate()
    next(gen)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"


def test_decorated_generator_send_throw_and_close_run_under_no_grad():
    log = []

    @nps.no_grad()
    def echo():
        try:
            while True:
                try:
                    received = yield
                    log.append(("send", received, is_grad_enabled()))
                except ValueError:
                    log.append(("throw", None, is_grad_enabled()))
        finally:
            log.append(("close", None, is_grad_enabled()))

    gen = echo()
    next(gen)
    gen.send(7)
    gen.throw(ValueError("x"))
    gen.close()
    assert log == [("send", 7, False), ("throw", None, False), ("close", None, False)]
    assert is_grad_enabled()
