"""``hashmatch eval``: how well the real add and match paths find re-shared
copies of a folder of benign photos, and how close unrelated photos come.

    transforms.py   the named edits people make when they re-share a picture
    scenes.py       generated abstract pictures, for distractor sets
    sets.py         bank and distractor images, each tagged with its source
    run.py          bank, query, record (resumable JSON lines)
    report.py       the table (Markdown, CSV, JSON) and recall-vs-threshold plots
"""
