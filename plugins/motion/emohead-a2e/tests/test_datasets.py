import pytest
from emoavatar.errors import EmotionError, MediaError
from emoavatar_emohead.datasets import read_crema_d, read_dataset, read_folder, read_manifest, read_mead


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_mead_layout(tmp_path):
    touch(tmp_path / "M003/video/front/angry/level_1/001.mp4")
    touch(tmp_path / "M003/video/front/angry/level_3/002.mp4")
    touch(tmp_path / "M003/video/left_30/angry/level_1/001.mp4")  # another view: skipped
    touch(tmp_path / "W009/video/front/neutral/level_1/010.mp4")
    touch(tmp_path / "M003/audio/angry/level_1/001.m4a")
    recs = list(read_mead(tmp_path))
    assert [(r.identity, r.emotion, r.intensity, r.sentence) for r in recs] == [
        ("M003", "angry", 1, "001"), ("M003", "angry", 3, "002"), ("W009", "neutral", 1, "010")]
    assert recs[0].audio == tmp_path / "M003/audio/angry/level_1/001.m4a"
    assert recs[1].audio is None  # audio comes from the video
    assert len(list(read_mead(tmp_path, view="left_30"))) == 1
    assert [r.emotion for r in read_mead(tmp_path, emotions={"neutral"})] == ["neutral"]
    assert read_dataset("auto", tmp_path) == recs


def test_crema_d_layout(tmp_path):
    touch(tmp_path / "VideoFlash/1001_DFA_ANG_XX.flv")
    touch(tmp_path / "VideoFlash/1091_IEO_HAP_HI.flv")
    touch(tmp_path / "VideoFlash/1002_TIE_DIS_LO.flv")
    touch(tmp_path / "VideoFlash/readme.flv")  # not a CREMA-D name: skipped
    touch(tmp_path / "AudioWAV/1001_DFA_ANG_XX.wav")
    recs = list(read_crema_d(tmp_path))
    assert [(r.identity, r.sentence, r.emotion, r.intensity) for r in recs] == [
        ("1001", "DFA", "angry", 0), ("1002", "TIE", "disgusted", 1), ("1091", "IEO", "happy", 3)]
    assert recs[0].audio == tmp_path / "AudioWAV/1001_DFA_ANG_XX.wav" and recs[1].audio is None
    assert read_dataset("auto", tmp_path) == recs


def test_folder_and_manifest(tmp_path):
    touch(tmp_path / "data/alice/joy/s1.mp4")
    touch(tmp_path / "data/alice/joy/s1.wav")
    touch(tmp_path / "data/bob/sad/level_2/s2.mov")
    recs = list(read_folder(tmp_path / "data"))
    assert [(r.identity, r.emotion, r.intensity, r.sentence) for r in recs] == [
        ("alice", "happy", 1, "s1"), ("bob", "sad", 2, "s2")]
    assert recs[0].audio == tmp_path / "data/alice/joy/s1.wav"
    csv = tmp_path / "list.csv"
    csv.write_text("video,emotion,intensity,identity\ndata/alice/joy/s1.mp4,ANG,2,al\n")
    (rec,) = read_manifest(csv)
    assert rec.emotion == "angry" and rec.intensity == 2 and rec.identity == "al" and rec.sentence == "s1"
    assert rec.video == (tmp_path / "data/alice/joy/s1.mp4").resolve()
    assert read_dataset("auto", csv) == [rec]


def test_errors(tmp_path):
    with pytest.raises(MediaError):
        list(read_mead(tmp_path / "missing"))
    touch(tmp_path / "x/video/front/bored/level_1/001.mp4")
    with pytest.raises(EmotionError, match="bored"):
        list(read_mead(tmp_path))
