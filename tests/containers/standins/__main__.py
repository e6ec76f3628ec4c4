from tests.containers.standins.build import main

raise SystemExit(main())
