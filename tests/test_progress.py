"""Progress where stderr is not a terminal (a log file, a pipe): plain lines at an interval,
never nothing for minutes, never carriage-return bars; a terminal gets the redrawn bar."""

from __future__ import annotations

import io

import pytest

from fastembed._progress import ProgressBar


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def stderr(monkeypatch):
    def use(tty: bool) -> Stream:
        s = Stream(tty)
        monkeypatch.setattr("sys.stderr", s)
        return s
    return use


def test_a_log_gets_plain_lines_at_the_interval(stderr, monkeypatch):
    monkeypatch.setenv("FASTEMBED_PROGRESS_EVERY", "0.01")
    err = stderr(tty=False)
    clock = iter(range(100))
    monkeypatch.setattr("fastembed._progress.time.monotonic", lambda: next(clock) * 0.004)
    with ProgressBar(100, desc="job", unit="items") as bar:
        for _ in range(10):
            bar.update(10, loss=1.5)
    lines = err.getvalue().splitlines()
    assert "\r" not in err.getvalue() and "\x1b" not in err.getvalue()
    assert 3 <= len(lines) <= 6, lines                      # every ~3 updates of 4 ms, plus the last
    assert lines[-1].startswith("job: 100.0%") and "100/100 items" in lines[-1] and "loss=1.5" in lines[-1]


def test_a_short_task_leaves_a_log_alone(stderr):
    err = stderr(tty=False)
    with ProgressBar(10, desc="quick", unit="items") as bar:
        bar.update(10)
    assert err.getvalue() == ""                              # default interval 30 s: nothing to report


def test_a_terminal_gets_the_redrawn_bar(stderr):
    err = stderr(tty=True)
    with ProgressBar(10, desc="job", unit="items") as bar:
        bar.update(10)
    assert err.getvalue().startswith("\rjob: 100.0%") and err.getvalue().endswith("\n")


def test_show_false_is_silent_and_show_true_draws(stderr):
    err = stderr(tty=False)
    with ProgressBar(10, desc="job", unit="items", show=False) as bar:
        bar.update(10)
    assert err.getvalue() == ""
    with ProgressBar(10, desc="job", unit="items", show=True) as bar:
        bar.update(10)
    assert "\rjob: 100.0%" in err.getvalue()


def test_word2vec_epochs_shorter_than_the_interval_still_log(stderr, monkeypatch):
    """One bar over all epochs: a log got no line at all when every epoch (a native call with a
    bar of its own) was shorter than the interval."""
    from fastembed.word2vec import Word2Vec

    monkeypatch.setenv("FASTEMBED_PROGRESS_EVERY", "0.02")
    err = stderr(tty=False)
    sentences = [[f"w{(i * 7 + j) % 300}" for j in range(12)] for i in range(3000)]
    Word2Vec(sentences, min_count=1, vector_size=16, epochs=60, workers=1)
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("word2vec (60 epochs):")]
    assert len(lines) >= 2 and "epoch=" in lines[0], err.getvalue()[-2000:]


def test_a_closed_stderr_does_not_stop_the_work(monkeypatch):
    class Broken(Stream):
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stderr", Broken(tty=True))
    with ProgressBar(10, desc="job", unit="items") as bar:
        bar.update(10)                                       # no exception: progress is not worth dying for
