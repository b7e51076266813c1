#!/usr/bin/env python3
"""How much of the PostgreSQL adapter the SQLite adapter repeats.

Counts the significant lines of adapters/postgres' hand-written Go (tests and
the sqlc-generated internal/dbsqlc excluded; blank, comment-only, lone
punctuation, package and import lines skipped, white space folded) that stand
in a run of >= 6 identical lines also found in adapters/sqlite. The target of
docs/architecture.md is <= 25 %. usage: scripts/adapter-duplication.py [ROOT]
"""
import os,re,sys
root=sys.argv[1] if len(sys.argv)>1 else '.'
def files(a):
    out=[]
    for dp,dn,fn in os.walk(os.path.join(root,'adapters',a)):
        if 'internal/dbsqlc' in dp: continue
        for f in fn:
            if f.endswith('.go') and not f.endswith('_test.go'): out.append(os.path.join(dp,f))
    return out
def norm(path):
    res=[]; inimp=False
    for i,l in enumerate(open(path)):
        s=' '.join(l.split())
        if not s or s.startswith('//'): continue
        if s.startswith('import ('): inimp=True; continue
        if inimp:
            if s==')': inimp=False
            continue
        if s.startswith('import ') or s.startswith('package '): continue
        if re.fullmatch(r'[{}()\[\],;]+',s): continue
        res.append(s)
    return res
W=6
pg={f:norm(f) for f in files('postgres')}
sq={f:norm(f) for f in files('sqlite')}
win=set()
for ls in sq.values():
    for i in range(len(ls)-W+1): win.add(tuple(ls[i:i+W]))
tot=sum(len(v) for v in pg.values()); shared=0; per={}
for f,ls in pg.items():
    m=[False]*len(ls)
    for i in range(len(ls)-W+1):
        if tuple(ls[i:i+W]) in win:
            for j in range(i,i+W): m[j]=True
    per[os.path.relpath(f,root)]=(sum(m),len(ls)); shared+=sum(m)
print(f"postgres hand-written significant lines: {tot}; in runs of >={W} identical lines shared with sqlite: {shared} ({100*shared/tot:.1f}%)")
for k,(a,b) in sorted(per.items(),key=lambda x:-x[1][0]):
    if a: print(f"  {k}: {a}/{b}")
