"""A fake arXiv query API (``GET /api/query``) on 127.0.0.1, for the tests and the enrichment benchmark.

It answers like export.arxiv.org does: Atom 1.0 with the ``opensearch`` and ``arxiv`` namespaces, versioned
entry ids (``http://arxiv.org/abs/2301.11325v1``, ``http://arxiv.org/abs/hep-th/9711200v3``), titles and
abstracts wrapped over several lines, ``arxiv:primary_category``/``comment``/``journal_ref``/``doi``, links
to the abs page, the PDF and the DOI. Entries are chosen by ``id_list`` (unknown ids are dropped silently,
malformed ones get arXiv's HTTP 400 error feed) and ``search_query`` (``ti:``, ``au:``, ``abs:``, ``all:``
terms, quoted phrases, ``AND``), paged by ``start``/``max_results`` (default 10).

Faults, queued with :meth:`FakeArxivAPI.fail_next` (one per request, in order; ``None`` for a normal
answer) or set for every request
with :meth:`FakeArxivAPI.fail_always`:

``429``            HTTP 429, plain-text body, ``Retry-After: <retry_after>``
``503``            HTTP 503, plain-text body, ``Retry-After: <retry_after>``
``400-error-feed`` HTTP 400 with arXiv's error feed (a query error naming no id)
``error-entry``    HTTP 200 whose feed's only entry is an error (``http://arxiv.org/api/errors#…``)
``html``           HTTP 200 with an HTML page
``empty``          HTTP 200 with a valid feed of no entries
``slow``           the right answer, after ``slow_seconds``
``truncated``      the right answer cut in the middle (connection closed)
``reset``          the connection closed without an answer

Every request is recorded (:attr:`FakeArxivAPI.requests`) with its arrival time on ``time.monotonic()``;
:attr:`FakeArxivAPI.max_in_flight` is the most requests it ever served at once.
"""

from __future__ import annotations

import re
import socket
import textwrap
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

FAULTS = ("429", "503", "400-error-feed", "error-entry", "html", "empty", "slow", "truncated", "reset", "hang")
"""``hang``: accept the request and never answer (until :meth:`FakeArxivAPI.release` or the server stops)."""

_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")


@dataclass(frozen=True)
class FakePaper:
    """One arXiv record. ``categories[0]`` is the primary category; dates are ``YYYY-MM-DDTHH:MM:SSZ``."""

    arxiv_id: str
    version: int
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]
    published: str
    updated: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


# The ten papers of data/digests/2023-01.txt, as arXiv has them.
JANUARY_2023 = (
    FakePaper(
        "2301.11325",
        1,
        "MusicLM: Generating Music From Text",
        (
            "Andrea Agostinelli",
            "Timo I. Denk",
            "Zalán Borsos",
            "Jesse Engel",
            "Mauro Verzetti",
            "Antoine Caillon",
            "Qingqing Huang",
            "Aren Jansen",
            "Adam Roberts",
            "Marco Tagliasacchi",
            "Matt Sharifi",
            "Neil Zeghidour",
            "Christian Frank",
        ),
        'We introduce MusicLM, a model generating high-fidelity music from text descriptions such as "a calming'
        ' violin melody backed by a distorted guitar riff". MusicLM casts conditional music generation as a'
        " hierarchical sequence-to-sequence modeling task, and it generates music at 24 kHz that remains"
        " consistent over several minutes. Our experiments show that MusicLM outperforms previous systems both in"
        " audio quality and adherence to the text description. We also publicly release MusicCaps, a dataset of"
        " 5.5k music-text pairs with rich text descriptions provided by human experts.",
        ("cs.SD", "cs.LG", "eess.AS"),
        "2023-01-26T18:58:53Z",
        comment="Supplementary material at https://google-research.github.io/seanet/musiclm/examples and"
        " https://kaggle.com/datasets/googleai/musiccaps",
    ),
    FakePaper(
        "2301.10226",
        4,
        "A Watermark for Large Language Models",
        ("John Kirchenbauer", "Jonas Geiping", "Yuxin Wen", "Jonathan Katz", "Ian Miers", "Tom Goldstein"),
        "Potential harms of large language models can be mitigated by watermarking model output, i.e., embedding"
        " signals into generated text that are invisible to humans but algorithmically detectable from a short"
        " span of tokens. We propose a watermarking framework for proprietary language models. The watermark can"
        " be embedded with negligible impact on text quality, and can be detected using an efficient open-source"
        " algorithm without access to the language model API or parameters. We derive an information-theoretic"
        " framework for analyzing the sensitivity of the watermark, and test it on a multi-billion parameter"
        " model from the Open Pretrained Transformer (OPT) family.",
        ("cs.LG", "cs.CL", "cs.CR"),
        "2023-01-24T18:52:59Z",
        "2024-05-01T17:49:33Z",
        comment="13 pages in the main body. Published at ICML 2023. Code is available at"
        " github.com/jwkirchenbauer/lm-watermarking",
        journal_ref="Proceedings of the 40th International Conference on Machine Learning, PMLR 202:17061-17084, 2023",
    ),
    FakePaper(
        "2212.14024",
        2,
        "Demonstrate-Search-Predict: Composing retrieval and language models for knowledge-intensive NLP",
        (
            "Omar Khattab",
            "Keshav Santhanam",
            "Xiang Lisa Li",
            "David Hall",
            "Percy Liang",
            "Christopher Potts",
            "Matei Zaharia",
        ),
        "Retrieval-augmented in-context learning has emerged as a powerful approach for addressing"
        " knowledge-intensive tasks using frozen language models (LM) and retrieval models (RM). Existing work"
        ' has combined these in simple "retrieve-then-read" pipelines. We propose Demonstrate-Search-Predict'
        " (DSP), a framework that relies on passing natural language texts in sophisticated pipelines between"
        " an LM and an RM. DSP can express high-level programs that bootstrap pipeline-aware demonstrations,"
        " search for relevant passages, and generate grounded predictions, systematically breaking down problems"
        " into small transformations that the LM and RM can handle more reliably.",
        ("cs.CL", "cs.IR"),
        "2022-12-28T18:52:39Z",
        "2023-01-23T18:55:58Z",
        comment="Code: https://github.com/stanfordnlp/dsp",
    ),
    FakePaper(
        "2301.13688",
        2,
        "The Flan Collection: Designing Data and Methods for Effective Instruction Tuning",
        (
            "Shayne Longpre",
            "Le Hou",
            "Tu Vu",
            "Albert Webson",
            "Hyung Won Chung",
            "Yi Tay",
            "Denny Zhou",
            "Quoc V. Le",
            "Barret Zoph",
            "Jason Wei",
            "Adam Roberts",
        ),
        "We study the design decisions of publicly available instruction tuning methods, and break down the"
        " development of Flan 2022. Through careful ablation studies on the Flan Collection of tasks and methods,"
        " we tease apart the effect of design decisions which enable Flan-T5 to outperform prior work by 3-17%+"
        " across evaluation settings. We find task balancing and enrichment techniques are overlooked but"
        " critical to effective instruction tuning, and in particular, training with mixed prompt settings"
        " (zero-shot, few-shot, and chain-of-thought) actually yields stronger performance in all settings.",
        ("cs.AI", "cs.CL", "cs.LG"),
        "2023-01-31T15:03:44Z",
        "2023-02-14T17:38:05Z",
    ),
    FakePaper(
        "2301.05062",
        5,
        "Tracr: Compiled Transformers as a Laboratory for Interpretability",
        (
            "David Lindner",
            "János Kramár",
            "Sebastian Farquhar",
            "Matthew Rahtz",
            "Thomas McGrath",
            "Vladimir Mikulik",
        ),
        'We show how to "compile" human-readable programs into standard decoder-only transformer models. Our'
        " compiler, Tracr, generates models with known structure. This structure can be used to design"
        ' experiments. For example, we use it to study "superposition" in transformers that execute multi-step'
        " algorithms. Additionally, the known structure of Tracr-compiled models can serve as ground-truth for"
        " evaluating interpretability methods.",
        ("cs.LG", "cs.AI"),
        "2023-01-12T14:59:19Z",
        "2023-11-03T11:30:07Z",
        comment="Presented at NeurIPS 2023",
    ),
    FakePaper(
        "2301.13188",
        1,
        "Extracting Training Data from Diffusion Models",
        (
            "Nicholas Carlini",
            "Jamie Hayes",
            "Milad Nasr",
            "Matthew Jagielski",
            "Vikash Sehwag",
            "Florian Tramèr",
            "Borja Balle",
            "Daphne Ippolito",
            "Eric Wallace",
        ),
        "Image diffusion models such as DALL-E 2, Imagen, and Stable Diffusion have attracted significant"
        " attention due to their ability to generate high-quality synthetic images. In this work, we show that"
        " diffusion models memorize individual images from their training data and emit them at generation time."
        " With a generate-and-filter pipeline, we extract over a thousand training examples from state-of-the-art"
        " models, ranging from photographs of individual people to trademarked company logos.",
        ("cs.CR", "cs.CV", "cs.LG"),
        "2023-01-30T18:53:09Z",
    ),
    FakePaper(
        "2302.00923",
        5,
        "Multimodal Chain-of-Thought Reasoning in Language Models",
        ("Zhuosheng Zhang", "Aston Zhang", "Mu Li", "Hai Zhao", "George Karypis", "Alex Smola"),
        "Large language models have shown impressive performance on complex reasoning by leveraging"
        " chain-of-thought prompting to generate intermediate reasoning chains as the rationale to infer the"
        " answer. However, existing CoT studies have focused on the language modality. We propose Multimodal-CoT"
        " that incorporates language (text) and vision (images) modalities into a two-stage framework that"
        " separates rationale generation and answer inference.",
        ("cs.CL", "cs.AI", "cs.CV"),
        "2023-02-02T07:51:19Z",
        "2024-05-20T06:37:16Z",
        journal_ref="Transactions on Machine Learning Research (05/2024)",
    ),
    FakePaper(
        "2301.09515",
        1,
        "StyleGAN-T: Unlocking the Power of GANs for Fast Large-Scale Text-to-Image Synthesis",
        ("Axel Sauer", "Tero Karras", "Samuli Laine", "Andreas Geiger", "Timo Aila"),
        "Text-to-image synthesis has recently seen significant progress thanks to large pretrained language"
        " models, large-scale training data, and the introduction of scalable model families such as diffusion"
        " and autoregressive models. However, the best-performing models require iterative evaluation to"
        " generate a single sample. In contrast, generative adversarial networks (GANs) only need a single"
        " forward pass. We identify the necessary steps to make GANs competitive in this setting and propose"
        " StyleGAN-T.",
        ("cs.LG", "cs.CV"),
        "2023-01-23T18:59:48Z",
        comment="Project page: https://sites.google.com/view/stylegan-t/",
    ),
    FakePaper(
        "2301.11280",
        1,
        "Text-To-4D Dynamic Scene Generation",
        (
            "Uriel Singer",
            "Shelly Sheynin",
            "Adam Polyak",
            "Oron Ashual",
            "Iurii Makarov",
            "Filippos Kokkinos",
            "Naman Goyal",
            "Andrea Vedaldi",
            "Devi Parikh",
            "Justin Johnson",
            "Yaniv Taigman",
        ),
        "We present MAV3D (Make-A-Video3D), a method for generating three-dimensional dynamic scenes from text"
        " descriptions. Our approach uses a 4D dynamic Neural Radiance Field (NeRF), which is optimized for scene"
        " appearance, density, and motion consistency by querying a Text-to-Video (T2V) diffusion-based model."
        " The dynamic video output generated from the provided text can be viewed from any camera location and"
        " angle, and can be composited into any 3D environment.",
        ("cs.CV", "cs.LG"),
        "2023-01-26T18:14:32Z",
        comment="Project page: https://make-a-video3d.github.io/",
    ),
    FakePaper(
        "2301.13868",
        1,
        "PADL: Language-Directed Physics-Based Character Control",
        ("Jordan Juravsky", "Yunrong Guo", "Sanja Fidler", "Xue Bin Peng"),
        "Developing systems that can synthesize natural and life-like motions for simulated characters has long"
        " been a focus for computer animation. We present PADL, which leverages recent innovations in NLP in"
        " order to take steps towards developing language-directed controllers for physics-based character"
        " animation. PADL allows users to issue natural language commands for specifying both high-level tasks"
        " and low-level skills that a character should perform.",
        ("cs.GR", "cs.AI", "cs.CL", "cs.LG"),
        "2023-01-31T18:59:22Z",
        journal_ref="SIGGRAPH Asia 2022 Conference Papers",
        doi="10.1145/3550469.3555391",
    ),
)

# An old-style id, with a title arXiv wraps over two lines.
OLD_STYLE = (
    FakePaper(
        "hep-th/9711200",
        3,
        "The Large N Limit of Superconformal Field Theories and Supergravity",
        ("Juan M. Maldacena",),
        "We show that the large N limit of certain conformal field theories in various dimensions include in"
        " their Hilbert space a sector describing supergravity on the product of Anti-deSitter spacetimes,"
        " spheres and other compact manifolds.",
        ("hep-th",),
        "1997-11-27T22:54:33Z",
        "1998-01-22T22:19:18Z",
        comment="20 pages, harvmac, v2: section on AdS_2 corrected, references added, v3: More references and a"
        " sign in equation 2.8 corrected",
        journal_ref="Adv.Theor.Math.Phys.2:231-252,1998",
        doi="10.1023/A:1026654312961",
    ),
)

# Near misses that a careless matcher would take.
DECOYS = (
    # Same title and a 2212.14… id, other authors: only the author check tells it apart.
    FakePaper(
        "2212.14987",
        1,
        "Demonstrate-Search-Predict: Composing Retrieval and Language Models for Knowledge-Intensive NLP",
        ("Marta Kowalska", "Ravi Menon"),
        "A reproduction study of retrieval-augmented in-context learning pipelines on open-domain question"
        " answering benchmarks.",
        ("cs.CL",),
        "2022-12-30T10:00:00Z",
    ),
    # Same title, other authors.
    FakePaper(
        "2306.01234",
        1,
        "Text-To-4D Dynamic Scene Generation",
        ("Rahul Mehta", "Sofia Alvarez"),
        "A workshop re-implementation of text-to-4D generation with dynamic radiance fields.",
        ("cs.CV",),
        "2023-06-02T09:00:00Z",
    ),
    # A similar, longer title.
    FakePaper(
        "2305.04521",
        2,
        "Text-to-4D Dynamic Scene Generation with Hybrid Score Distillation Priors",
        ("Ling Wei", "Uriel Singer"),
        "We combine image and video diffusion priors for text-to-4D scene generation.",
        ("cs.CV", "cs.GR"),
        "2023-05-08T12:00:00Z",
        "2023-07-01T12:00:00Z",
    ),
)

CORPUS = JANUARY_2023 + OLD_STYLE + DECOYS


def synthetic_paper(arxiv_id: str) -> FakePaper:
    """A made-up but full-sized record for any new-style id (the benchmark's 1,000 papers)."""
    yymm = arxiv_id[:4]
    sentence = (
        f"We study problem {arxiv_id} with a method that scales to large models and datasets, and we report"
        " results on standard benchmarks together with ablations of every design decision. "
    )
    return FakePaper(
        arxiv_id,
        1 + int(arxiv_id[-1]) % 3,
        f"Synthetic Study {arxiv_id}: Scaling Learned Representations for Efficient Inference in Large Models",
        tuple(f"Author{n} Surname{arxiv_id[-3:]}" for n in range(8)),
        sentence * 6,
        ("cs.LG", "cs.AI", "stat.ML"),
        f"20{yymm[:2]}-{yymm[2:]}-15T12:00:00Z",
        f"20{yymm[:2]}-{yymm[2:]}-20T12:00:00Z",
        comment="12 pages, 4 figures",
    )


# --- Atom ----------------------------------------------------------------------------------------------


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=78, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)


def render_entry(paper: FakePaper) -> str:
    versioned = f"{paper.arxiv_id}v{paper.version}"
    arxiv_ns = 'xmlns:arxiv="http://arxiv.org/schemas/atom"'
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <updated>{paper.updated or paper.published}</updated>",
        f"    <published>{paper.published}</published>",
        f"    <title>{escape(_wrap(paper.title))}</title>",
        f"    <summary>  {escape(_wrap(paper.abstract, indent=''))}\n</summary>",
    ]
    lines += [f"    <author>\n      <name>{escape(name)}</name>\n    </author>" for name in paper.authors]
    if paper.doi:
        lines.append(f"    <arxiv:doi {arxiv_ns}>{escape(paper.doi)}</arxiv:doi>")
        lines.append(f'    <link title="doi" href="http://dx.doi.org/{escape(paper.doi)}" rel="related"/>')
    if paper.comment:
        lines.append(f"    <arxiv:comment {arxiv_ns}>{escape(_wrap(paper.comment))}</arxiv:comment>")
    if paper.journal_ref:
        lines.append(f"    <arxiv:journal_ref {arxiv_ns}>{escape(_wrap(paper.journal_ref))}</arxiv:journal_ref>")
    lines += [
        f'    <link href="http://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>',
        f'    <link title="pdf" href="http://arxiv.org/pdf/{versioned}" rel="related" type="application/pdf"/>',
        f'    <arxiv:primary_category {arxiv_ns} term="{paper.categories[0]}" scheme="http://arxiv.org/schemas/atom"/>',
    ]
    lines += [f'    <category term="{term}" scheme="http://arxiv.org/schemas/atom"/>' for term in paper.categories]
    lines.append("  </entry>")
    return "\n".join(lines)


def _feed(query: dict[str, str], entries: Iterable[str], total: int, start: int, per_page: int) -> bytes:
    shown = urlencode({k: query.get(k, "") for k in ("search_query", "id_list", "start", "max_results")})
    opensearch = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S-05:00")
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f'  <link href={quoteattr("http://arxiv.org/api/query?" + shown)} rel="self" type="application/atom+xml"/>',
        f'  <title type="html">ArXiv Query: {escape(shown)}</title>',
        "  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>",
        f"  <updated>{now}</updated>",
        f"  <opensearch:totalResults {opensearch}>{total}</opensearch:totalResults>",
        f"  <opensearch:startIndex {opensearch}>{start}</opensearch:startIndex>",
        f"  <opensearch:itemsPerPage {opensearch}>{per_page}</opensearch:itemsPerPage>",
    ]
    return ("\n".join([*head, *entries, "</feed>"]) + "\n").encode("utf-8")


def error_feed(query: dict[str, str], fragment: str, message: str) -> bytes:
    """arXiv's error feed: one entry whose id is ``http://arxiv.org/api/errors#<fragment>``."""
    url = f"http://arxiv.org/api/errors#{fragment}"
    entry = (
        f"  <entry>\n    <id>{escape(url)}</id>\n    <title>Error</title>\n    <summary>{escape(message)}</summary>\n"
        f"    <updated>{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S-05:00')}</updated>\n"
        f'    <link href="{escape(url)}" rel="alternate" type="text/html"/>\n'
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n  </entry>"
    )
    return _feed(query, [entry], 1, 0, 1)


_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>arXiv is busy</title></head>\n<body><h1>We are experiencing"
    b" high load</h1><p>Please try again later.<br></body></html>\n"
)


# --- search --------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.casefold())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


_TERM = re.compile(r'(?P<field>ti|au|abs|all|id):(?:"(?P<phrase>[^"]*)"|(?P<word>[^\s()]+))', re.IGNORECASE)


def search(papers: Iterable[FakePaper], query: str) -> list[FakePaper]:
    """Papers matching every ``field:term`` of ``query`` (AND), closest titles first."""
    terms = [
        (m["field"].lower(), _words(m["phrase"] if m["phrase"] is not None else m["word"]))
        for m in _TERM.finditer(query)
    ]
    if not terms:
        return []
    hits = []
    for paper in papers:
        fields = {
            "ti": _words(paper.title),
            "au": [w for name in paper.authors for w in _words(name)],
            "abs": _words(paper.abstract),
            "id": _words(paper.arxiv_id),
        }
        fields["all"] = fields["ti"] + fields["au"] + fields["abs"]
        if all(words and _contains(fields[name], words) for name, words in terms):
            title_terms = sum(len(words) for name, words in terms if name == "ti")
            hits.append((abs(len(fields["ti"]) - title_terms), paper))
    return [paper for _, paper in sorted(hits, key=lambda hit: hit[0])]


# --- the server ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    at: float
    """``time.monotonic()`` when the request arrived."""
    path: str
    params: dict[str, str]
    fault: str | None

    @property
    def id_list(self) -> list[str]:
        return [i for i in self.params.get("id_list", "").split(",") if i]

    @property
    def search_query(self) -> str:
        return self.params.get("search_query", "")


@dataclass
class FakeArxivAPI:
    """The fake server; use as a context manager (``with FakeArxivAPI() as api: api.url``)."""

    papers: Iterable[FakePaper] = CORPUS
    synthetic: bool = False
    """Answer any new-style id not in ``papers`` with :func:`synthetic_paper` (except ``missing`` ones)."""
    missing: frozenset[str] = frozenset()
    reject_ids: frozenset[str] = frozenset()
    """Ids answered with arXiv's HTTP 400 ``incorrect_id_format_for_…`` error feed."""
    retry_after: str | None = "0"
    overstate_total: int = 0
    """Added to ``opensearch:totalResults`` (arXiv's counts are not always exact)."""
    slow_seconds: float = 1.0
    requests: list[RecordedRequest] = field(default_factory=list)
    max_in_flight: int = 0
    _by_id: dict[str, FakePaper] = field(default_factory=dict)
    _queue: list[str | None] = field(default_factory=list)
    _always: str | None = None
    _in_flight: int = 0
    _hanging: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.papers = tuple(self.papers)
        self._by_id = {paper.arxiv_id: paper for paper in self.papers}

    # --- control ---------------------------------------------------------------------------------------

    def fail_next(self, *faults: str | None) -> None:
        """Queue one fault per coming request, in order (``None``: answer that request normally)."""
        for fault in faults:
            assert fault is None or fault in FAULTS, fault
        with self._lock:
            if "hang" in faults:
                self._released.clear()
            self._queue.extend(faults)

    def fail_always(self, fault: str | None) -> None:
        assert fault is None or fault in FAULTS, fault
        with self._lock:
            if fault == "hang":
                self._released.clear()
            self._always = fault

    def release(self) -> None:
        """End the hang: requests hanging now are dropped unanswered; later ones are answered normally
        unless another fault is set."""
        with self._lock:
            if self._always == "hang":
                self._always = None
            self._queue = [fault for fault in self._queue if fault != "hang"]
        self._released.set()

    def hanging(self) -> int:
        """Requests accepted and not answered (hanging) right now."""
        with self._lock:
            return self._hanging

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/query"

    def request_times(self) -> list[float]:
        return [r.at for r in self.requests]

    def __enter__(self) -> FakeArxivAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- answering -------------------------------------------------------------------------------------

    def _lookup(self, arxiv_id: str) -> FakePaper | None:
        base = re.sub(r"v\d+$", "", arxiv_id)  # the fake always answers with the latest version
        paper = self._by_id.get(base)
        if paper is None and self.synthetic and base not in self.missing and re.fullmatch(r"\d{4}\.\d{4,5}", base):
            paper = synthetic_paper(base)
        return paper

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        """The status and body a healthy arXiv would give."""
        ids = [i for i in params.get("id_list", "").split(",") if i]
        for arxiv_id in ids:
            if not _ID.match(arxiv_id) or arxiv_id in self.reject_ids:
                return 400, error_feed(
                    params, f"incorrect_id_format_for_{arxiv_id}", f"incorrect id format for {arxiv_id}"
                )
        try:
            start = int(params.get("start", "0") or 0)
            per_page = int(params.get("max_results", "10") or 10)
        except ValueError:
            return 400, error_feed(params, "max_results_must_be_an_integer", "max_results must be an integer")
        query = params.get("search_query", "")
        if ids:
            found = [paper for paper in map(self._lookup, ids) if paper is not None]
            if query:
                allowed = {p.arxiv_id for p in search(found, query)}
                found = [p for p in found if p.arxiv_id in allowed]
        elif query:
            found = search(self.papers, query)
        else:
            found = []
        page = found[start : start + per_page]
        return 200, _feed(params, map(render_entry, page), len(found) + self.overstate_total, start, per_page)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            fault = self._queue.pop(0) if self._queue else self._always
            self.requests.append(RecordedRequest(time.monotonic(), parts.path, params, fault))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            self._respond(handler, parts.path, params, fault)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the slow fault)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, handler: BaseHTTPRequestHandler, path: str, params: dict[str, str], fault: str | None) -> None:
        if path != "/api/query":
            self._send(handler, 404, b"Not Found", "text/plain")
            return
        if fault == "hang":
            with self._lock:
                self._hanging += 1
            try:
                self._released.wait()
            finally:
                with self._lock:
                    self._hanging -= 1
            handler.close_connection = True
            return
        if fault == "reset":
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        if fault in ("429", "503"):
            body = b"Rate exceeded." if fault == "429" else b"Service Unavailable"
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            self._send(handler, int(fault), body, "text/plain", headers)
            return
        if fault == "400-error-feed":
            body = error_feed(params, "max_results_must_be_an_integer", "max_results must be an integer")
            self._send(handler, 400, body, "application/atom+xml")
            return
        if fault == "error-entry":
            body = error_feed(params, "start_must_be_an_integer", "start must be an integer")
            self._send(handler, 200, body, "application/atom+xml")
            return
        if fault == "html":
            self._send(handler, 200, _HTML, "text/html; charset=utf-8")
            return
        if fault == "empty":
            self._send(handler, 200, _feed(params, [], 0, 0, 0), "application/atom+xml")
            return
        if fault == "slow":
            time.sleep(self.slow_seconds)
        status, body = self.answer(params)
        if fault == "truncated":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.close_connection = True
            return
        self._send(handler, status, body, "application/atom+xml; charset=utf-8")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
