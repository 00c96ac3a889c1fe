"""The trainers' shared command-line pieces (emoavatar.training)."""

import pytest
from emoavatar.training import RESUME_HELP, add_run_options, torch_threads, trainer_parser, with_torch_threads


def test_trainer_parser_requires_data_and_out_and_adds_the_run_options(capsys):
    p = trainer_parser("demo", "first line\n  kept as written", data="clips", data_nargs="+", out="checkpoint")
    add_run_options(p, threads=1, threads_help="one is fastest")
    args = p.parse_args(["--data", "a", "b", "--out", "x.safetensors"])
    assert (args.data, args.out, args.resume, args.seed, args.device, args.threads) == (
        ["a", "b"], "x.safetensors", False, 0, "cpu", 1)
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--data", "a"])
    assert e.value.code == 2 and "the following arguments are required: --out" in capsys.readouterr().err
    p.print_help()
    text = capsys.readouterr().out
    assert text.startswith("usage: emoavatar train demo") and "  kept as written" in text
    assert RESUME_HELP in text and "one is fastest" in text


def test_run_options_can_be_left_out():
    p = trainer_parser("demo")
    add_run_options(p, resume=None, device=False, threads=None)
    assert vars(p.parse_args([])) == {"seed": 0}


def test_torch_threads_restores_the_count():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(before + 1):
        raise RuntimeError("a failed run")
    assert torch.get_num_threads() == before
    with torch_threads(0):
        assert torch.get_num_threads() == before


def test_with_torch_threads_runs_a_trainer_under_its_own_threads_option():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()

    @with_torch_threads
    def train(args, log, scale=1):
        """Doc kept."""
        if args.fail:
            raise RuntimeError("a failed run")
        return torch.get_num_threads() * scale, log

    p = trainer_parser("demo")
    add_run_options(p, threads=before + 1)
    p.add_argument("--fail", action="store_true")
    assert train(p.parse_args([]), "log", scale=2) == (2 * (before + 1), "log")  # arguments passed through
    assert torch.get_num_threads() == before and train.__doc__ == "Doc kept." and train.__name__ == "train"
    assert train(p.parse_args(["--threads", "0"]), None)[0] == before  # 0: torch's own setting
    with pytest.raises(RuntimeError):
        train(p.parse_args(["--fail"]), None)
    assert torch.get_num_threads() == before
