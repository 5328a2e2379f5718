.PHONY: demo test lint docs bench

demo:  ## start the demo site with a worker and a scheduler
	scripts/demo.sh

test:  ## the whole test suite, on SQLite then PostgreSQL
	scripts/test.sh

lint:
	$$(scripts/venv.sh | tail -n 1) -m ruff check eztaskmanager tests demoproject
	$$(scripts/venv.sh | tail -n 1) -m ruff format --check eztaskmanager tests demoproject
