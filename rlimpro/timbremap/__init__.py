"""The timbre map behind ``rlimpro visualize``: projection, audio for the page, the page and the figure.

- :mod:`rlimpro.timbremap.projection` — z-scoring, PCA / t-SNE / UMAP, placing new points, nearest
  lookup rows and the coverage figure;
- :mod:`rlimpro.timbremap.audio` — how the page plays a grid point (synthesized in the page, or
  rendered by rlimpro and embedded / written beside the page);
- :mod:`rlimpro.timbremap.page` — the self-contained ``map.html``;
- :mod:`rlimpro.timbremap.plot` — the static ``map.png``.

:func:`rlimpro.visualize.visualize` ties them together.
"""
