.PHONY: demo test lint docs bench

demo:  ## start the demo site with a worker and a scheduler (Redis optional)
	scripts/demo.sh

test:  ## the whole test suite, on SQLite then PostgreSQL
	scripts/test.sh

lint:
	$$(scripts/venv.sh | tail -n 1) -m ruff check eztaskmanager tests demoproject scripts benchmarks
	$$(scripts/venv.sh | tail -n 1) -m ruff format --check eztaskmanager tests demoproject scripts benchmarks

bench:  ## benchmarks (Redis on 127.0.0.1:6379), e.g. make bench BENCH_ARGS="--quick --db postgres"
	$$(scripts/venv.sh | tail -n 1) benchmarks/run.py $(BENCH_ARGS)

docs:  ## the Sphinx documentation in docs/_build/html (a warning fails the build)
	$$(scripts/venv.sh | tail -n 1) -m sphinx -W -b html docs docs/_build/html
