"""Videos made elsewhere, as a generator: `--model external --set folder=DIR --tag kling-1.6`.

The usual way in is `stepeval generate import` (copies files, keeps provenance, counts refusals and
missing items; stepeval.generation.external_import). This generator serves the same videos through
the batch runner instead, for pipelines that treat every model alike: it decodes the mapped file and
returns its frames (so they are re-encoded), raises Refused for a refusal, and fails an item with
no file.
"""

from __future__ import annotations

from pathlib import Path

from stepeval.errors import UserError
from stepeval.generation.external_import import MappedVideo, read_mapping
from stepeval.generation.protocol import Capabilities, GenerationRequest, GenerationResult, Refused
from stepeval.video import iter_frames, probe


class ExternalVideos:
    name = "external"
    # an engine's videos may answer prompts alone or prompt-image pairs: the benchmark says which
    capabilities = Capabilities(sizes=(), frame_counts=(), fps=0.0, streams=True, notes="videos made elsewhere (see `stepeval generate import`)",
                                tasks=frozenset({"ti2v", "t2v"}))

    def __init__(self, folder: str, mapping: str | None = None, engine: str = "external"):
        self.folder = Path(folder)
        self.mapping = Path(mapping) if mapping else None
        self.engine = engine
        self._mapped: dict[tuple[str, int], MappedVideo] | None = None

    @property
    def parameters(self) -> dict:
        return {"folder": str(self.folder), "mapping": str(self.mapping) if self.mapping else None, "engine": self.engine}

    def load(self, device: str) -> None:
        if not self.folder.is_dir():
            raise UserError("video folder not found", path=self.folder, hint="set folder= to the folder holding the videos")
        if self.mapping:
            self._mapped = {(m.item_id, m.sample): m for m in read_mapping(self.mapping, self.folder)}

    def _find(self, item_id: str, sample: int) -> MappedVideo | None:
        if self._mapped is not None:
            return self._mapped.get((item_id, sample))
        path = self.folder / f"{item_id}{'' if sample == 0 else f'-{sample}'}.mp4"
        return MappedVideo(item_id, sample, path) if path.exists() else None

    def generate(self, request: GenerationRequest) -> GenerationResult:
        found = self._find(request.item_id, request.sample)
        if found is None:
            raise FileNotFoundError(f"no video for {request.item_id} sample {request.sample} in {self.folder}")
        if found.status == "refused":
            raise Refused(found.note or f"refused by {self.engine}")
        info = probe(found.file)
        return GenerationResult(frames=(f for _, f in iter_frames(found.file)), fps=info.fps, seconds=0.0, info={"source": str(found.file)})
