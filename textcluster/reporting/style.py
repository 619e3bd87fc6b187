"""The stylesheet the run report and the comparison page share (inlined: one file, no external URL).
Its own module so that the comparison page does not import the report and its 37 modules for it."""

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#555}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
.docs{font-size:.85em;color:#444}.metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));
gap:.3em 1em}.metrics div{display:flex;justify-content:space-between;border-bottom:1px dotted #ccc}
.metrics b{font-variant-numeric:tabular-nums;font-weight:600}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:.5em 1em}
"""

# The run report's own rules (the comparison page does not use them): topic colour swatches, the quality
# and timing tables, folded details.
REPORT_CSS = """
header{margin-bottom:.6em}section{margin-top:1.4em}h3{font-size:1.05em;margin:1.2em 0 .3em}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.4em;vertical-align:baseline}
table.topics{width:100%;table-layout:fixed}table.topics th:nth-child(1){width:18%}
table.topics th:nth-child(2){width:8.5%}table.topics th:nth-child(3){width:21%}table.topics th:nth-child(4){width:5.5%}
table.topics td.topic{font-weight:600}table.topics .meta{font-weight:400;font-size:.85em}
.docs ul{margin:0;padding-left:1.1em}.docs li{margin-bottom:.2em}
table.quality{width:100%;table-layout:fixed}table.quality th:nth-child(1){width:19%}
table.quality th:nth-child(2){width:9%}table.quality th:nth-child(3){width:21%}
table.quality td.scale{color:#555}table.quality td:last-child{color:#333}
tr.total td{font-weight:600}details{margin:.4em 0}summary{cursor:pointer;color:#444}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em;max-height:30em}
"""
