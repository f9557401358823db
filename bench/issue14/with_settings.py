"""with_settings.py DIR SETTINGS OUT: a copy of model directory DIR (its weights) whose
spec's [compress] tables are replaced by the file SETTINGS. Used by lenet-5.sh and
lenet-5-long.sh."""
import os
import re
import shutil
import sys

src, settings, out = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
shutil.copy(os.path.join(src, "model.safetensors"), out)
kept, skip = [], False
for line in open(os.path.join(src, "spec.toml")).read().splitlines(keepends=True):
    m = re.match(r'^\[\[?([^\]]+)\]', line)
    if m:
        name = m.group(1).strip()
        skip = name == 'compress' or name.startswith('compress.')
    if not skip:
        kept.append(line)
with open(os.path.join(out, "spec.toml"), "w") as f:
    f.write(''.join(kept).rstrip('\n') + '\n\n' + open(settings).read())
