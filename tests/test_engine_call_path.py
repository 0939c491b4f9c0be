"""The everyday call path (`run(m)`): Python's garbage collector is paused while a model is
built and its tape written (sdmodels/engine.py _CollectorPause) and resumes after (a full
collection in a fresh process took 25-60 ms of a library model's first result); DataFrames
of one model share their column labels (made once per tape) but not the Index's name."""
import gc
import threading

from sdmodels import Model, run
from sdmodels import engine


def _model(name: str = "decay") -> Model:
    m = Model(name, stop=2, dt=0.5)
    s = m.stock("Amount", initial=100)
    m.flow("Outflow", s / m.constant("Lifetime", 1), out_of=s)
    return m


def test_the_collector_is_off_while_preparing_and_on_after(monkeypatch):
    seen = []
    prepare = engine.prepare

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return prepare(*args, **kwargs)
    monkeypatch.setattr(engine, "prepare", watched)
    assert gc.isenabled()
    assert run(_model(), engine="interpreter")["Amount"].tolist() == [100, 50, 25, 12.5, 6.25]
    assert seen == [False] and gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    try:
        run(_model(), engine="interpreter")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_models_prepared_in_threads_at_once_leave_the_collector_on():
    errors = []

    def work(i):
        try:
            for _ in range(20):
                run(_model(f"m{i}"), engine="interpreter")
        except Exception as exc:        # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and gc.isenabled()


def test_frames_of_one_model_do_not_share_their_column_index_name():
    m = _model("named")
    first = run(m, engine="interpreter")
    first.columns.name = "variable"                 # what a user may do before melting
    second = run(m, engine="interpreter")
    assert second.columns.name is None and list(second.columns) == list(first.columns)
