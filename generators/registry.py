"""The generators fleet implements, by the key that names them in `spec.generators[]`."""

from __future__ import annotations

from generators.base import Generator
from generators.clusters import ClustersGenerator
from generators.git import GitGenerator
from generators.list import ListGenerator
from generators.matrix import MatrixGenerator
from generators.merge import MergeGenerator

GENERATORS: dict[str, Generator] = {
    generator.kind: generator
    for generator in (
        ListGenerator(),
        ClustersGenerator(),
        GitGenerator(),
        MatrixGenerator(),
        MergeGenerator(),
    )
}
