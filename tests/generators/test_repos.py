"""Repository readers: a plain folder and a local git repository answer the same questions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generators.errors import GitReadError, UnsafePathError
from generators.repos import (
    DirectoryReader,
    GitRepoReader,
    LocalRepoResolver,
    normalize_repo_url,
)
from tests.conftest import MakeRepo

LAYOUT = {
    "a/b/f.yaml": "x: 1\n",
    "a-c/f.yaml": "x: 2\n",
    "a/f.yaml": "x: 3\n",
    ".github/ci.yaml": "on: push\n",
    "z/.hidden/inner/f": "",
    "top.json": "{}",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(tmp_path / "folder", LAYOUT)


@pytest.fixture
def git_reader(folder: Path, make_repo: MakeRepo) -> Iterator[GitRepoReader]:
    reader = GitRepoReader(str(make_repo(source=folder)))
    yield reader
    reader.close()


def test_directory_reader_lists_directories_depth_first_without_hidden_ones(folder: Path) -> None:
    assert DirectoryReader(str(folder)).directories("") == ["a", "a/b", "a-c", "z"]


def test_directory_reader_lists_directories_like_the_git_reader(
    folder: Path, git_reader: GitRepoReader
) -> None:
    commit = git_reader.resolve("HEAD")
    assert DirectoryReader(str(folder)).directories("") == git_reader.directories(commit)


def test_directory_reader_lists_files_like_the_git_reader(
    folder: Path, git_reader: GitRepoReader
) -> None:
    commit = git_reader.resolve("HEAD")
    assert DirectoryReader(str(folder)).files("") == git_reader.files(commit)


def test_files_are_sorted_by_path(folder: Path) -> None:
    files = DirectoryReader(str(folder)).files("")
    assert files == sorted(files)
    assert "a/b/f.yaml" in files


def test_directory_reader_reads_a_file(folder: Path) -> None:
    assert DirectoryReader(str(folder)).read("", "a/b/f.yaml") == b"x: 1\n"


def test_git_reader_reads_a_file_at_a_commit(git_reader: GitRepoReader) -> None:
    assert git_reader.read(git_reader.resolve("main"), "a-c/f.yaml") == b"x: 2\n"


def test_directory_reader_every_revision_reads_the_same(folder: Path) -> None:
    assert DirectoryReader(str(folder)).resolve("any-branch") == ""


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", "a/../../x"])
def test_paths_leaving_the_repository_are_refused_by_both_readers(
    folder: Path, git_reader: GitRepoReader, path: str
) -> None:
    with pytest.raises(UnsafePathError):
        DirectoryReader(str(folder)).read("", path)
    with pytest.raises(UnsafePathError):
        git_reader.read(git_reader.resolve("HEAD"), path)


def test_missing_file_is_a_git_read_error(git_reader: GitRepoReader) -> None:
    with pytest.raises(GitReadError, match=r"nope\.yaml: no such file"):
        git_reader.read(git_reader.resolve("HEAD"), "nope.yaml")


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GitReadError, match="does not exist"):
        DirectoryReader(str(tmp_path / "absent"))


def test_git_reader_on_a_plain_folder_is_refused(folder: Path) -> None:
    with pytest.raises(GitReadError, match="is not a git repository"):
        GitRepoReader(str(folder))


@pytest.mark.parametrize(
    "url",
    ["https://git.example/org/r.git", "https://git.example/org/r", "https://git.example/org/r/"],
)
def test_local_repo_resolver_treats_url_spellings_as_one_repo(folder: Path, url: str) -> None:
    resolver = LocalRepoResolver({"https://git.example/org/r.git": str(folder)})
    assert resolver.reader(url).directories("") == ["a", "a/b", "a-c", "z"]


def test_local_repo_resolver_reuses_one_reader_per_repo(folder: Path) -> None:
    resolver = LocalRepoResolver({"https://git.example/org/r": str(folder)})
    assert resolver.reader("https://git.example/org/r.git") is resolver.reader(
        "https://git.example/org/r/"
    )


def test_local_repo_resolver_picks_the_git_reader_for_a_git_work_tree(
    folder: Path, make_repo: MakeRepo
) -> None:
    resolver = LocalRepoResolver({"https://x/git": str(make_repo(source=folder))})
    try:
        assert isinstance(resolver.reader("https://x/git"), GitRepoReader)
    finally:
        resolver.close()


def test_local_repo_resolver_unknown_url_tells_to_pass_repo() -> None:
    with pytest.raises(GitReadError) as caught:
        LocalRepoResolver({}).reader("https://git.example/org/missing")
    assert str(caught.value) == (
        "no local copy of repository 'https://git.example/org/missing': "
        "pass --repo https://git.example/org/missing=DIR"
    )


def test_normalize_repo_url_drops_git_suffix_and_trailing_slash() -> None:
    assert normalize_repo_url("https://x/r.git") == normalize_repo_url("https://x/r/")
    assert normalize_repo_url("https://x/r.git") != normalize_repo_url("https://x/other")
