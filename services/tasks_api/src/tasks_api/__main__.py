from tasks_api.cli import main

raise SystemExit(main())
