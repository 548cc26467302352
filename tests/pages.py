"""Digest web pages for the tests and the benchmark: a digest rendered as the article page of a Chinese
tech site (header nav, a sidebar of numbered hot posts, the article, comments with arXiv links and numbered
lines, a comment form, a footer), and as a plain English page with one ``<h2>`` per paper.

The pages are built from a parsed digest, so that what a page should load back is known exactly.
"""

from __future__ import annotations

from html import escape

from bot.digest.parse import Digest, Paper

_NAV = """
<header class="site-header">
  <div class="logo"><a href="/">deephub 技术社区</a></div>
  <nav class="main-nav"><ul>
    <li><a href="/">首页</a></li><li><a href="/tags/ml">机器学习</a></li><li><a href="/tags/cv">计算机视觉</a></li>
    <li><a href="/tags/nlp">自然语言处理</a></li><li><a href="/about">关于我们</a></li>
    <li><a href="/login">登录</a></li>
  </ul></nav>
</header>"""

_SIDEBAR = """
<aside class="sidebar">
  <div class="widget hot-posts">
    <h3>热门文章</h3>
    <ol>
      <li><a href="/post/hot1">1、Attention Is All You Need 论文精读</a></li>
      <li><a href="/post/hot2">2、Stable Diffusion 原理详解</a></li>
      <li><a href="https://arxiv.org/abs/1706.03762">3、Transformer 架构图解</a></li>
      <li><a href="/post/hot4">4、一文读懂 LoRA 微调</a></li>
      <li><a href="/post/hot5">5、GPT-4 技术报告解读</a></li>
    </ol>
  </div>
  <div class="widget related"><h3>相关文章</h3><ul>
    <li><a href="/post/rel1">2022年12月论文推荐</a></li><li><a href="/post/rel2">2022年11月论文推荐</a></li>
  </ul></div>
</aside>"""

_COMMENTS = """
<section id="comments" class="comments">
  <h3>评论 (3)</h3>
  <ol class="comment-list">
    <li class="comment"><div class="comment-author">张三</div>
      <div class="comment-body"><p>1、推荐一下这篇 https://arxiv.org/abs/2303.08774</p>
      <p>By Someone Else, Another Person.</p><p>写得很好，感谢分享！</p></div></li>
    <li class="comment"><div class="comment-author">李四</div>
      <div class="comment-body"><p>2、还有 <a href="https://arxiv.org/abs/2212.09748">DiT</a> 也值得一看</p></div></li>
    <li class="comment"><div class="comment-author">王五</div>
      <div class="comment-body"><p>3. 第三条评论：期待下个月的推荐</p></div></li>
  </ol>
  <form class="comment-form" action="/comment" method="post">
    <h3>发表评论</h3>
    <p class="hint">**粗体** _斜体_ [链接](http://example.com) `代码` - 列表 &gt; 引用</p>
    <p class="hint">。你还可以使用@来通知其他用户。</p>
    <textarea name="comment" placeholder="写下你的评论"></textarea>
    <button type="submit">提交评论</button>
  </form>
</section>"""

_FOOTER = """
<footer class="site-footer">
  <p>© 2023 deephub 技术社区 · <a href="/privacy">隐私政策</a> · <a href="/terms">服务条款</a></p>
  <p>京ICP备12345678号-1</p>
</footer>"""


def _paper_zh(paper: Paper) -> str:
    links = "".join(f'<p><a href="{escape(link)}">{escape(link)}</a></p>' for link in paper.links)
    authors = ", ".join(paper.authors) + (", et al." if paper.authors_truncated else ".")
    prefix = "By " if paper.authors_truncated else ""
    parts = [f"<p><strong>{paper.position}、{escape(paper.title)}</strong></p>", links]
    if paper.authors:
        parts.append(f"<p>{escape(prefix + authors)}</p>")
    bullets: list[str] = []
    for line in paper.summary.split("\n"):
        if line.startswith("- "):
            bullets.append(f"<li>{escape(line[2:])}</li>")
            continue
        if bullets:
            parts.append("<ul>" + "".join(bullets) + "</ul>")
            bullets = []
        if line.strip():
            parts.append(f"<p>{escape(line)}</p>")
    if bullets:
        parts.append("<ul>" + "".join(bullets) + "</ul>")
    if paper.position == 1:
        parts.append('<p><img src="/images/musiclm.png" alt="MusicLM 架构图"></p>')
    if paper.position == 5:
        parts.append("<pre><code>def sort(xs):\n    return sorted(xs)\n</code></pre>")
    return "\n".join(parts)


def zh_article_page(digest: Digest, *, charset: str = "utf-8", declare: str | None = None) -> str:
    """The digest as an article on a Chinese tech site, chrome included; ``<meta charset>`` is ``declare``
    (default: ``charset``)."""
    refs = "".join(f"<p>[{ref.number}] {escape(ref.raw)}</p>" for ref in digest.references)
    trailer = ""
    if digest.source_url:
        trailer += f'<p><a href="{escape(digest.source_url)}">{escape(digest.source_url)}</a></p>'
    if digest.curator:
        trailer += f"<p>作者:{escape(digest.curator)}</p>"
    body = "\n".join(_paper_zh(paper) for paper in digest.papers)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="{declare or charset}">
<title>2023年1月论文推荐 - deephub 技术社区</title>
<meta name="description" content="本月论文推荐">
</head><body>
{_NAV}
<div class="container">
<main class="content">
<article class="post">
  <h1 class="post-title">2023年1月论文推荐</h1>
  <div class="post-meta">发布于 2023-02-03 · 阅读 1024</div>
  <div class="post-body">
  <p>{escape(digest.intro or "")}</p>
  {body}
  <p>最后本文的一些其他引用</p>
  {refs}
  {trailer}
  </div>
</article>
{_COMMENTS}
</main>
{_SIDEBAR}
</div>
{_FOOTER}
</body></html>
"""


def en_article_page(digest: Digest, *, relative_links: bool = False) -> str:
    """The digest as a plain English page: one ``<h2>`` per paper; with ``relative_links`` the arXiv links
    are written relative (``/abs/ID``) and resolve only against an arxiv.org page URL."""
    sections = []
    for paper in digest.papers:
        links = []
        for link in paper.links:
            href = link.replace("https://arxiv.org", "") if relative_links else link
            links.append(f'<a href="{escape(href)}">arXiv</a>')
        authors = ", ".join(paper.authors)
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in paper.summary.split("\n") if p.strip())
        sections.append(
            f"<h2>{paper.position}. {escape(paper.title)}</h2>\n<p>{' '.join(links)}</p>\n"
            f"<p>Authors: {escape(authors)}</p>\n{paragraphs}"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(digest.title or "Digest")}</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/archive">Archive</a> | <a href="/rss">RSS</a></nav>
<article>
<h1>{escape(digest.title or "Digest")}</h1>
<p>{escape(digest.intro or "")}</p>
{chr(10).join(sections)}
</article>
<aside><h3>Popular</h3><ol><li><a href="/p/1">1. Our most read post</a></li>
<li><a href="/p/2">2. Another</a></li></ol></aside>
<footer><p>Copyright 2023 The ML Digest</p></footer>
</body></html>
"""
