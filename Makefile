# Thin aliases for kit.py, which needs nothing but Python 3.11.
.PHONY: setup demo test verify release bench clean
setup:   ; python3 kit.py setup
demo:    ; python3 kit.py demo
test:    ; python3 kit.py test
verify:  ; python3 kit.py verify
release: ; python3 kit.py release out/release
bench:   ; python3 kit.py setup && for b in benchmarks/bench_*.py; do .venv/bin/python $$b || exit 1; done
clean:   ; rm -rf out .cache
