"""ruvector demo: attention over embeddings, in SQL, next to the data.

Run it with `bash tools/demo.sh` (which installs what it needs and starts a
throw-away PostgreSQL cluster); inside such a cluster it is simply
`.venv/bin/python demo/demo.py` (it connects with the PG* variables).

The story: a table of 4,000 documents, each with a 64-dimensional embedding.
The embeddings are synthetic but have a known topic structure (8 topics; a
document is its topic's centre plus noise, and two topics, "databases" and
"query planning", overlap on purpose), so that the demo can check its own
answers.  A query about databases then goes through a two-stage pipeline
that is common in practice:
  1. retrieve:  a cheap first stage scores only the first 16 dimensions of
                each embedding (a truncated, Matryoshka-style prefix, the part a
                coarse index would hold) and keeps the best 100 candidates;
  2. rerank:    exact attention over the full 64 dimensions gives each
                candidate a weight (a softmax over the candidates) and a new
                order, which lifts precision;
  3. pool:      an attention-weighted context vector of the candidates
                (flash and multi-head attention), checked against the topics;
  4. batch:     three queries pooled in one call with a 2-D query array;
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
PREFIX = 16         # dimensions the first stage looks at
CANDIDATES = 100
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
    return (0.6 * centres[topic] + rng.normal(scale=0.3, size=D)).astype(np.float32)


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
SELECT id, topic, ruvector_attention_score(%(q16)s::real[], embedding[1:16]) AS coarse
FROM docs ORDER BY coarse DESC, id LIMIT %(k)s
"""

RERANK = """
WITH cand AS (
  SELECT id, topic, embedding,
         ruvector_attention_score(%(q16)s::real[], embedding[1:16]) AS coarse
  FROM docs ORDER BY coarse DESC, id LIMIT %(k)s
), agg AS (
  SELECT array_agg(id ORDER BY coarse DESC, id) AS ids,
         ruvector_attention_scores(%(q)s::real[],
                                   array_agg(embedding ORDER BY coarse DESC, id)) AS w
  FROM cand
)
SELECT c.id, c.topic, rank() OVER (ORDER BY c.coarse DESC, c.id) AS coarse_rank, w.weight
FROM agg, unnest(agg.ids, agg.w) AS w(id, weight) JOIN cand c USING (id)
ORDER BY w.weight DESC, c.id
"""

POOL = """
WITH cand AS (
  SELECT id, embedding, ruvector_attention_score(%(q16)s::real[], embedding[1:16]) AS coarse
  FROM docs ORDER BY coarse DESC, id LIMIT %(k)s
), m AS (
  SELECT array_agg(embedding ORDER BY coarse DESC, id) AS kv FROM cand
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

        params = {"q": [float(x) for x in q], "q16": [float(x) for x in q[:PREFIX]],
                  "k": CANDIDATES}

        heading(f"1. Retrieve: {CANDIDATES} candidates from a cheap first stage "
                f"(the first {PREFIX} of {D} dimensions)")
        show_sql(RETRIEVE)
        t0 = time.perf_counter()
        cur.execute(RETRIEVE, params)
        rows = cur.fetchall()
        ms = (time.perf_counter() - t0) * 1e3
        p10_coarse = precision([TOPICS.index(r[1]) for r in rows[:10]], db)
        recall = precision([TOPICS.index(r[1]) for r in rows], db)
        print(f"  {len(rows)} candidates in {ms:.1f} ms; {recall:.0%} of them are about databases; "
              f"precision@10 of the coarse order = {p10_coarse:.0%}")

        heading("2. Rerank: exact attention over the full embeddings of the candidates")
        show_sql(RERANK)
        t0 = time.perf_counter()
        cur.execute(RERANK, params)
        ranked = cur.fetchall()
        ms = (time.perf_counter() - t0) * 1e3
        print(f"  {'rank':>4}  {'was':>4}  {'id':>5}  {'topic':<15} {'weight':>7}")
        for i, (doc_id, topic, coarse_rank, weight) in enumerate(ranked[:10], 1):
            print(f"  {i:>4}  {coarse_rank:>4}  {doc_id:>5}  {topic:<15} {weight:>7.4f}")
        p10 = precision([TOPICS.index(r[1]) for r in ranked[:10]], db)
        mass = sum(w for _, t, _, w in ranked if t == "databases")
        total = sum(w for *_, w in ranked)
        print(f"  ... {len(ranked) - 10} more ({ms:.1f} ms); the weights sum to {total:.6f}, "
              f"and {mass:.0%} of them is on 'databases' documents")
        print(f"  precision@10: {p10_coarse:.0%} after the first stage -> {p10:.0%} after reranking")
        if p10 < p10_coarse:
            print("demo: reranking made precision worse", file=sys.stderr)
            return 1

        heading("3. Pool: one context vector, attention-weighted over the candidates")
        show_sql(POOL)
        cur.execute(POOL, params)
        flash, one_head, four_heads = (np.array(v, dtype=np.float32) for v in cur.fetchone())
        print("  flash attention (tiles of 64 keys)   -> nearest topic: "
              "%s (cosine %.3f)" % nearest_topic(flash, centres))
        print("  multi-head, 4 heads of 16 dims       -> nearest topic: "
              "%s (cosine %.3f)" % nearest_topic(four_heads, centres))
        print(f"  flash vs single-head attention: max |difference| = "
              f"{np.max(np.abs(flash - one_head)):.2e} (the same softmax, computed online in tiles)")

        heading("4. Batch: three queries in one call (a 2-D query array, m x d -> m x dv)")
        picks = [TOPICS.index(t) for t in ("compilers", "astronomy", "cycling")]
        qs = np.stack([query_about(rng, centres, t) for t in picks])
        show_sql(BATCH)
        cur.execute(BATCH, {"qs": qs.tolist()})
        batch = np.array(cur.fetchone()[0], dtype=np.float32)
        for t, row in zip(picks, batch):
            name, cos = nearest_topic(row, centres)
            print(f"  query about {TOPICS[t]:<10} -> pooled vector nearest to {name} (cosine {cos:.3f})")

        heading("5. The same numbers from Python (ruvector_cffi, same C core)")
        cur.execute("SELECT array_agg(embedding ORDER BY coarse DESC, id) FROM ("
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
