"""save/load: bit-exact .npz round trips, malformed checkpoints refused by name, no pickle."""

import io
import zipfile

import numpy as np
import pytest

from npsoftmax.nn import Linear, MixtureOfSoftmaxes, Sequential, Softmax, load, save


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    source = MixtureOfSoftmaxes(3, 4, 5, dtype=dtype, rng=0)
    path = tmp_path / "mos.npz"
    save(source, path)
    target = load(MixtureOfSoftmaxes(3, 4, 5, dtype=dtype, rng=1), path)
    assert isinstance(target, MixtureOfSoftmaxes)
    for (name, p), (other, q) in zip(source.named_parameters(), target.named_parameters()):
        assert name == other and q.dtype == dtype
        assert p.data.tobytes() == q.data.tobytes()


def test_the_file_is_a_plain_npz_named_like_the_state_dict(tmp_path):
    model = Sequential(Linear(2, 3, rng=0), Softmax(), Linear(3, 1, rng=0))
    path = tmp_path / "checkpoint"  # no suffix: written exactly here, nothing appended
    save(model, path)
    assert path.exists()
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["0.bias", "0.weight", "2.bias", "2.weight"]
        np.testing.assert_array_equal(archive["2.weight"], model[2].weight.data)


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    save(Linear(2, 2, rng=0), buffer)
    assert not buffer.closed
    buffer.seek(0)
    layer = load(Linear(2, 2, rng=1), buffer)
    np.testing.assert_array_equal(layer.weight.data, Linear(2, 2, rng=0).weight.data)


def test_loading_into_another_dtype_keeps_the_modules(tmp_path):
    path = tmp_path / "f64.npz"
    save(Linear(2, 2, rng=0), path)
    layer = load(Linear(2, 2, dtype=np.float32, rng=1), path)
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(
        layer.weight.data, Linear(2, 2, rng=0).weight.data.astype(np.float32)
    )


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ({"weight": np.zeros((2, 3))}, r"missing keys \['bias'\]"),
        (
            {"weight": np.zeros((2, 3)), "bias": np.zeros(2), "scale": np.ones(1)},
            r"unexpected keys \['scale'\]",
        ),
        ({"weight": np.zeros((3, 2)), "bias": np.zeros(2)}, r"'weight' has shape \(3, 2\)"),
    ],
)
def test_malformed_checkpoints_are_refused_by_name(tmp_path, entries, match):
    path = _write(tmp_path / "bad.npz", **entries)
    layer = Linear(3, 2, rng=0)
    before = layer.state_dict()
    with pytest.raises(ValueError, match=match):
        load(layer, path)
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])  # nothing was loaded


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "pickle.npz"
    np.savez(path, weight=np.array([[object()] * 3] * 2, dtype=object), bias=np.zeros(2))
    with pytest.raises(TypeError, match=r"'weight'.*pickled objects"):
        load(Linear(3, 2, rng=0), path)


def test_files_that_are_not_npz_archives(tmp_path):
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        load(Linear(3, 2, rng=0), npy)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"not a \.npz checkpoint"):
        load(Linear(3, 2, rng=0), text)
    with pytest.raises(FileNotFoundError):
        load(Linear(3, 2, rng=0), tmp_path / "absent.npz")


def test_empty_truncated_and_damaged_files_name_the_file(tmp_path):
    layer = Linear(3, 2, rng=0)
    good = tmp_path / "good.npz"
    save(layer, good)
    raw = good.read_bytes()
    empty, cut = tmp_path / "empty.npz", tmp_path / "cut.npz"
    empty.write_bytes(b"")
    cut.write_bytes(raw[: len(raw) // 2])
    for path in (empty, cut):
        with pytest.raises(ValueError, match=rf"{path.name}' is not a \.npz checkpoint"):
            load(layer, path)
    # A valid archive whose entry lost its last bytes: damaged, not "pickled objects".
    short = tmp_path / "short.npz"
    entry = io.BytesIO()
    np.lib.format.write_array(entry, np.zeros((2, 3)))
    with zipfile.ZipFile(short, "w") as archive:
        archive.writestr("weight.npy", entry.getvalue()[:-8])
    with pytest.raises(ValueError, match=r"entry 'weight' of .*short.npz' is damaged"):
        load(layer, short)


def test_names_that_clash_with_numpy_savez_keywords(tmp_path):
    from npsoftmax.nn import Module, Parameter

    class Odd(Module):
        def __init__(self, value):
            super().__init__()
            self.file = Parameter(np.full(2, value))
            self.allow_pickle = Parameter(np.full(1, value))

    path = tmp_path / "odd.npz"
    save(Odd(1.0), path)
    assert zipfile.is_zipfile(path)
    assert load(Odd(0.0), path).file.data.tolist() == [1.0, 1.0]


def test_arguments_must_be_modules(tmp_path):
    with pytest.raises(TypeError, match="save expects a Module, got dict"):
        save({"w": np.zeros(1)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="load expects a Module"):
        load("model", tmp_path / "x.npz")


@pytest.mark.parity
def test_a_pytorch_state_dict_loads_by_name():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softmax(dim=-1))
    model = Sequential(Linear(3, 4, dtype=np.float32, rng=0), Softmax())
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    expected = ref(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-6, atol=1e-7)
