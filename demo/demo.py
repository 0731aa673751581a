"""ruvector demo: attention over embeddings, in SQL, next to the data.

Run it with `bash tools/demo.sh` (which installs what it needs and starts a
throw-away PostgreSQL cluster); inside such a cluster it is simply
`.venv/bin/python demo/demo.py` (it connects with the PG* variables).

The story: a table of 4,000 documents, each with a 64-dimensional embedding.
The embeddings are synthetic but have a known topic structure (8 topics; a
document is its topic's centre plus noise, and two topics, "databases" and
"query planning", overlap on purpose), so that the demo can check its own
answers.  A query about databases is then
  1. retrieved:  the 50 documents with the highest attention logit,
  2. reranked:   attention weights (a softmax) over those 50 candidates,
  3. pooled:     an attention-weighted context vector (flash and multi-head),
  4. expanded:   the pooled vector used as a second query (pseudo relevance
                 feedback), which lifts precision,
  5. batched:    three queries pooled in one call with a 2-D query array,
and finally the same numbers are recomputed with the Python module
ruvector_cffi and compared bit for bit.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import psycopg

import ruvector_cffi as rv

TOPICS = ["databases", "compilers", "gardening", "astronomy",
          "cooking", "query planning", "music", "cycling"]
D = 64
DOCS_PER_TOPIC = 500
CANDIDATES = 50
SEED = 7


def make_corpus(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic centres, document embeddings and their topics (float32)."""
    centres = rng.normal(size=(len(TOPICS), D))
    qp = TOPICS.index("query planning")
    centres[qp] = 0.7 * centres[0] + 0.71 * centres[qp]  # overlaps "databases"
    docs = np.vstack([0.6 * c + rng.normal(scale=0.8, size=(DOCS_PER_TOPIC, D))
                      for c in centres]).astype(np.float32)
    topics = np.repeat(np.arange(len(TOPICS)), DOCS_PER_TOPIC)
    return centres.astype(np.float32), docs, topics


def query_about(rng: np.random.Generator, centres: np.ndarray, topic: int) -> np.ndarray:
    return (0.6 * centres[topic] + rng.normal(scale=0.8, size=D)).astype(np.float32)


def heading(text: str) -> None:
    print(f"\n{text}\n{'-' * len(text)}")


def show_sql(sql: str) -> None:
    print("  SQL> " + "\n       ".join(line.strip() for line in sql.strip().splitlines()))


def precision(topic_ids: list[int], want: int) -> float:
    return sum(t == want for t in topic_ids) / len(topic_ids)


def nearest_topic(v: np.ndarray, centres: np.ndarray) -> tuple[str, float]:
    cos = centres @ v / (np.linalg.norm(centres, axis=1) * np.linalg.norm(v))
    best = int(np.argmax(cos))
    return TOPICS[best], float(cos[best])


RETRIEVE = """
SELECT id, topic, ruvector_attention_score(%(q)s::real[], embedding) AS logit
FROM docs ORDER BY logit DESC, id LIMIT %(k)s
"""

RERANK = """
WITH cand AS (
  SELECT id, topic, embedding, ruvector_attention_score(%(q)s::real[], embedding) AS logit
  FROM docs ORDER BY logit DESC, id LIMIT %(k)s
), agg AS (
  SELECT array_agg(id ORDER BY logit DESC, id) AS ids,
         ruvector_attention_scores(%(q)s::real[],
                                   array_agg(embedding ORDER BY logit DESC, id)) AS w
  FROM cand
)
SELECT c.id, c.topic, c.logit, w.weight
FROM agg, unnest(agg.ids, agg.w) AS w(id, weight) JOIN cand c USING (id)
ORDER BY w.weight DESC, c.id
"""

POOL = """
WITH cand AS (
  SELECT embedding, ruvector_attention_score(%(q)s::real[], embedding) AS logit
  FROM docs ORDER BY logit DESC, id LIMIT %(k)s
), m AS (
  SELECT array_agg(embedding ORDER BY logit DESC) AS kv FROM cand
)
SELECT ruvector_flash_attention(%(q)s::real[], kv, kv)            AS flash,
       ruvector_multi_head_attention(%(q)s::real[], kv, kv, 1)    AS one_head,
       ruvector_multi_head_attention(%(q)s::real[], kv, kv, 4)    AS four_heads
FROM m
"""

BATCH = """
SELECT ruvector_flash_attention(%(qs)s::real[],
                                (SELECT array_agg(embedding ORDER BY id) FROM docs WHERE id %% 4 = 0),
                                (SELECT array_agg(embedding ORDER BY id) FROM docs WHERE id %% 4 = 0))
"""


def main() -> int:
    rng = np.random.default_rng(SEED)
    centres, docs, topics = make_corpus(rng)
    db = TOPICS.index("databases")
    q = query_about(rng, centres, db)

    with psycopg.connect(autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS ruvector")
        cur.execute("SELECT active, supported FROM ruvector_simd_info()")
        active, supported = cur.fetchone()
        print("ruvector demo: attention over embeddings, in SQL")
        print(f"  server: {conn.info.parameter_status('server_version')}, "
              f"SIMD backend {active} (supported: {', '.join(supported)})")

        heading("0. The data: 4,000 documents in a plain table")
        cur.execute("DROP TABLE IF EXISTS docs")
        cur.execute("CREATE TABLE docs (id int PRIMARY KEY, topic text, "
                    "title text, embedding real[] NOT NULL)")
        t0 = time.perf_counter()
        with cur.copy("COPY docs (id, topic, title, embedding) FROM STDIN") as copy:
            for i, (t, e) in enumerate(zip(topics, docs)):
                copy.write_row((i, TOPICS[t], f"{TOPICS[t]} #{i % DOCS_PER_TOPIC}",
                                [float(x) for x in e]))
        cur.execute("ANALYZE docs")
        print(f"  loaded {len(docs)} rows in {time.perf_counter() - t0:.2f} s: "
              f"{len(TOPICS)} topics x {DOCS_PER_TOPIC} docs, d = {D}; "
              f"'query planning' overlaps 'databases' on purpose")
        print("  the query: a new document about databases")

        params = {"q": [float(x) for x in q], "k": CANDIDATES}

        heading("1. Retrieve: the 50 best candidates by attention logit q.k/sqrt(d)")
        show_sql(RETRIEVE)
        t0 = time.perf_counter()
        cur.execute(RETRIEVE, params)
        rows = cur.fetchall()
        ms = (time.perf_counter() - t0) * 1e3
        p20 = precision([TOPICS.index(r[1]) for r in rows[:20]], db)
        print(f"  {len(rows)} candidates in {ms:.1f} ms; precision@20 = {p20:.0%} "
              f"(share of the top 20 that really are about databases)")

        heading("2. Rerank: attention weights over the candidates (they sum to 1)")
        show_sql(RERANK)
        cur.execute(RERANK, params)
        ranked = cur.fetchall()
        print(f"  {'rank':>4}  {'id':>5}  {'topic':<15} {'logit':>8}  {'weight':>7}")
        for i, (doc_id, topic, logit, weight) in enumerate(ranked[:10], 1):
            print(f"  {i:>4}  {doc_id:>5}  {topic:<15} {logit:>8.3f}  {weight:>7.4f}")
        mass = sum(w for _, t, _, w in ranked if t == "databases")
        total = sum(w for *_, w in ranked)
        print(f"  ... {len(ranked) - 10} more; weights sum to {total:.6f}; "
              f"{mass:.0%} of the attention mass is on 'databases' documents")

        heading("3. Pool: one context vector, attention-weighted over the candidates")
        show_sql(POOL)
        cur.execute(POOL, params)
        flash, one_head, four_heads = (np.array(v, dtype=np.float32) for v in cur.fetchone())
        print(f"  flash attention (tiles of 64 keys)   -> nearest topic: "
              "%s (cosine %.3f)" % nearest_topic(flash, centres))
        print(f"  multi-head, 4 heads of 16 dims       -> nearest topic: "
              "%s (cosine %.3f)" % nearest_topic(four_heads, centres))
        print(f"  flash vs single-head attention: max |difference| = "
              f"{np.max(np.abs(flash - one_head)):.2e} (same softmax, computed online in tiles)")

        heading("4. Expand: retrieve again with the pooled vector (pseudo relevance feedback)")
        cur.execute(RETRIEVE, {"q": [float(x) for x in flash], "k": CANDIDATES})
        rows2 = cur.fetchall()
        p20b = precision([TOPICS.index(r[1]) for r in rows2[:20]], db)
        p50a = precision([TOPICS.index(r[1]) for r in rows], db)
        p50b = precision([TOPICS.index(r[1]) for r in rows2], db)
        print(f"  precision@20: {p20:.0%} -> {p20b:.0%};  precision@50: {p50a:.0%} -> {p50b:.0%}")

        heading("5. Batch: three queries in one call (a 2-D query array, m x d -> m x dv)")
        picks = [TOPICS.index(t) for t in ("compilers", "astronomy", "cycling")]
        qs = np.stack([query_about(rng, centres, t) for t in picks])
        show_sql(BATCH)
        cur.execute(BATCH, {"qs": qs.tolist()})
        batch = np.array(cur.fetchone()[0], dtype=np.float32)
        for t, row in zip(picks, batch):
            name, cos = nearest_topic(row, centres)
            print(f"  query about {TOPICS[t]:<10} -> pooled vector nearest to {name} (cosine {cos:.3f})")

        heading("6. The same numbers from Python (ruvector_cffi, same C core)")
        cur.execute("SELECT array_agg(embedding ORDER BY logit DESC, id) FROM ("
                    + RETRIEVE.replace("SELECT id, topic,", "SELECT id, topic, embedding,")
                    + ") c", params)
        kv = np.array(cur.fetchone()[0], dtype=np.float32)
        weight_by_id = {doc_id: w for doc_id, _, _, w in ranked}
        checks = {
            "attention weights": (np.array([weight_by_id[r[0]] for r in rows], dtype=np.float32),
                                  rv.attention_scores(q, kv)),
            "flash attention": (flash, rv.flash_attention(q, kv, kv)),
            "multi-head attention": (four_heads, rv.multi_head_attention(q, kv, kv, 4)),
        }
        sub = docs[::4]
        checks["batch of 3 queries"] = (batch, rv.flash_attention(qs, sub, sub))
        all_same = True
        for name, (sql_v, py_v) in checks.items():
            same = np.array_equal(sql_v, py_v)
            all_same &= same
            print(f"  {name:<22} SQL == Python bit for bit: {'yes' if same else 'NO'}"
                  f"  (backend {rv.simd_backend()})")
        cur.execute("DROP TABLE docs")
        if not all_same:
            print("demo: SQL and Python disagree", file=sys.stderr)
            return 1
    print("\ndone: every number above came from the same C core, in SQL and in Python")
    return 0


if __name__ == "__main__":
    sys.exit(main())
