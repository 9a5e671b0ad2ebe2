"""Images travel from files to predictions through one reader: training and predict.py read
an image file alike, pixel arrays and JSON inputs give the same raw pixels, and a trained
run answers on a folder of images keyed by file and class name."""

import base64
import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from {{ cookiecutter.package_name }}.data.image_folder import ImageFolderDataModule
from {{ cookiecutter.package_name }}.data.mnist_cifar import CIFAR10DataModule, MNISTDataModule
from {{ cookiecutter.package_name }}.data.preprocessing import from_dict
from {{ cookiecutter.package_name }}.utils.errors import DataError

from .conftest import SHORT_RUN, run_python
from .datafiles import write_cifar10, write_colour_folder, write_mnist

QUIET = (
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "callbacks.model_summary=null",
)


def read_table(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(newline="") as file:
        return {(row["source"], row["index"]): row for row in csv.DictReader(file)}


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_training_and_prediction_read_an_image_file_alike(tmp_path):
    root = write_colour_folder(tmp_path / "photos")
    data = ImageFolderDataModule(path=str(root), image_size=[12, 10])
    preprocessing = data.fitted_preprocessing
    encode = preprocessing.encode()
    for dataset in data.splits:
        for (path, _), (image, _) in zip(dataset.files, dataset, strict=True):
            examples = preprocessing.read(path)
            assert examples.raw.shape == (1, 3, 12, 10)
            assert torch.equal(encode(examples.raw)[0], image)
    # The test examples are keyed as predict.py keys their files: by path under data.path.
    sources, indices = data.test_keys()
    assert [preprocessing.read(root / source).sources[0] for source in sources] == sources
    assert indices == [0] * len(sources) and sources[0].split("/")[0] in ("red", "blue")
    # Elsewhere, by file name; and a file Pillow cannot read is named in one line.
    outside = shutil.copy(root / sources[0], tmp_path / "mine.png")
    assert preprocessing.read(Path(outside)).sources == ["mine.png"]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png is not an image Pillow can read") as error:
        preprocessing.read(tmp_path / "broken.png")
    assert "\n" not in str(error.value)


def test_image_folder_standardises_with_the_training_images_statistics(tmp_path):
    root = write_colour_folder(tmp_path / "photos")
    train, val, _ = ImageFolderDataModule(path=str(root), image_size=8).splits
    images = torch.stack([image for image, _ in train])
    torch.testing.assert_close(images.mean((0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(images.std((0, 2, 3)), torch.ones(3), atol=0.05, rtol=0)
    held_out = torch.stack([image for image, _ in val])
    assert not torch.allclose(held_out.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)


@pytest.mark.parametrize("kind", ["mnist", "cifar10"])
def test_pixel_arrays_give_the_official_test_set(tmp_path, kind):
    if kind == "mnist":
        data = MNISTDataModule(data_dir=str(write_mnist(tmp_path)), download=False)
    else:
        data = CIFAR10DataModule(data_dir=str(write_cifar10(tmp_path)), download=False)
    preprocessing = data.fitted_preprocessing
    test = data.splits[2]
    pixels = test.images.numpy()  # uint8 (N, C, H, W), as read from the dataset's files
    layouts = {
        "chw.npy": pixels,
        "hwc.npy": pixels.transpose(0, 2, 3, 1),  # as numpy and Pillow store images
        "chw.pt": torch.from_numpy(pixels),
    }
    if kind == "mnist":
        layouts["hw.npy"] = pixels[:, 0]
    for name, array in layouts.items():
        path = tmp_path / name
        if name.endswith(".pt"):
            torch.save(array, path)
        else:
            np.save(path, array)
        examples = preprocessing.read(path)
        assert examples.sources == [name] * len(test) and examples.indices == list(range(len(test)))
        assert torch.equal(examples.raw, torch.from_numpy(pixels).float()), name
    encoded = preprocessing.encode()(examples.raw)
    assert torch.equal(encoded, torch.stack([image for image, _ in test]))
    assert data.test_keys() == (["test"] * len(test), list(range(len(test))))
    np.save(tmp_path / "scaled.npy", pixels / 255.0)
    with pytest.raises(DataError, match=r"between 0 and 1; give values 0\.\.255"):
        preprocessing.read(tmp_path / "scaled.npy")


def test_json_inputs_are_image_files_in_base64_or_pixel_lists(tmp_path):
    data = CIFAR10DataModule(data_dir=str(write_cifar10(tmp_path)), download=False)
    preprocessing = from_dict(data.fitted_preprocessing.to_dict())  # as a checkpoint holds it
    pixels = data.splits[2].images[:2].numpy()
    files = [png_bytes(image.transpose(1, 2, 0)) for image in pixels]
    (tmp_path / "first.png").write_bytes(files[0])
    examples = preprocessing.from_json(
        [
            base64.b64encode(files[0]).decode(),
            "data:image/png;base64," + base64.b64encode(files[1]).decode(),
            pixels[0].tolist(),
        ]
    )
    assert examples.sources == ["request"] * 3 and examples.indices == [0, 1, 2]
    expected = torch.from_numpy(pixels[[0, 1, 0]]).float()
    assert torch.equal(examples.raw, expected)
    assert torch.equal(preprocessing.read(tmp_path / "first.png").raw[0], expected[0])
    for item, message in [
        ("not base64!", r"inputs\[0\] is not base64 of an image file"),
        (base64.b64encode(b"plain text").decode(), r"inputs\[0\] is not an image Pillow can read"),
        ((pixels[0].astype(float) + 300).tolist(), r"from 300 to .*; give values 0\.\.255"),
        ([[1, 2], [3]], r"inputs\[0\] is not an array of numbers"),
        (pixels[:2].tolist(), r"inputs\[0\] holds 2 images; give one image per input"),
    ]:
        with pytest.raises(DataError, match=message) as error:
            preprocessing.from_json([item])
        assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A model trained on two colours of images by ``train.py``, and its folder."""
    root = tmp_path_factory.mktemp("images")
    photos = write_colour_folder(root / "data" / "photos")
    log_dir = root / "logs"
    trained = run_python(
        "train.py",
        "data=image_folder",
        f"data.path={photos}",
        "data.image_size=16",
        "data.batch_size=8",
        "model=mlp",
        "trainer.max_epochs=4",
        *QUIET,
        f"paths.log_dir={log_dir}",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    return root, log_dir


@pytest.mark.slow
def test_predict_on_an_image_folder_answers_by_file_and_class(image_run):
    root, log_dir = image_run
    photos = root / "data" / "photos"
    # Another format and size, beside the class folders: keyed by its name under data.path.
    Image.open(photos / "red" / "0.png").resize((40, 30)).save(photos / "holiday.jpg")
    output = root / "predicted.csv"
    result = run_python(
        "predict.py", "run=latest", f"input={photos}", f"output={output}",
        f"paths.log_dir={log_dir}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with output.open(newline="") as file:
        assert next(csv.reader(file)) == ["source", "index", "predicted", "blue", "red"]
    predicted = read_table(output)
    files = [(f"{colour}/{n}.png", "0") for colour in ("red", "blue") for n in range(12)]
    assert sorted(predicted) == sorted([*files, ("holiday.jpg", "0")])
    assert all(predicted[key]["predicted"] == key[0].split("/")[0] for key in files)
    assert predicted[("holiday.jpg", "0")]["predicted"] == "red"
    # Each test image, read by predict.py from its file, as the experiment's test predictions.
    tested = read_table(log_dir / "train" / "latest" / "test_predictions.csv")
    assert tested and set(tested) <= set(predicted)
    for key, row in tested.items():
        assert row["predicted"] == predicted[key]["predicted"]
        for name in ("blue", "red"):
            assert float(row[name]) == pytest.approx(float(predicted[key][name]), abs=1e-5)


@pytest.mark.slow
def test_mnist_run_predicts_a_npy_of_raw_pixels_as_its_test_set(tmp_path):
    data_dir = write_mnist(tmp_path / "data")
    log_dir = tmp_path / "logs"
    trained = run_python(
        "train.py", "data=mnist", f"data.data_dir={data_dir}", "data.download=false",
        *SHORT_RUN, f"paths.log_dir={log_dir}",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    test = MNISTDataModule(data_dir=str(data_dir), download=False).splits[2]
    np.save(tmp_path / "digits.npy", test.images[:, 0].numpy())  # (N, 28, 28) uint8
    result = run_python(
        "predict.py", "run=latest", f"input={tmp_path / 'digits.npy'}",
        f"output={tmp_path / 'p.csv'}", f"paths.log_dir={log_dir}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    predicted = read_table(tmp_path / "p.csv")
    tested = read_table(log_dir / "train" / "latest" / "test_predictions.csv")
    assert len(predicted) == len(tested) == len(test)
    for (_, index), row in tested.items():
        mine = predicted[("digits.npy", index)]
        assert row["predicted"] == mine["predicted"]
        for digit in "0123456789":
            assert float(row[digit]) == pytest.approx(float(mine[digit]), abs=1e-5)
