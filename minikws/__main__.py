from minikws.cli import main

raise SystemExit(main())
