; Phonet Agent — Windows installer (issue 9; docs/packaging.md, windows-packaging.md).
;
; Built by `python3 dev.py package` (packaging/phonet_build/inno.py) with Inno Setup 6.3:
;   ISCC /DAppVersion=0.1.0 [/DSourceDir=...] [/DOutputDir=...] [/DSign] [/DSmokeTest] installer.iss
;
; Per-user by default (no UAC prompt), with an all-users override (/ALLUSERS or the
; dialog). Command-line switches of the setup, besides Inno's own:
;   /NOWEBVIEW2       do not download Microsoft's WebView2 bootstrapper when it is missing
; and of the uninstaller:
;   /DELETEUSERDATA   also delete the user's data folder (asked interactively otherwise)

#define AppName "Phonet Agent"
#define AppPublisher "Phonet"
#define AppExeName "agent.exe"
; The agent creates and holds both mutexes for its lifetime (agent/winsupport.py).
#define AppMutexName "Phonet Agent"
; The agent waits on this event; setting it asks the agent to exit (agent.exe --quit).
#define QuitEventName "Phonet Agent Quit"
#define AppUserModelID "Phonet.Agent"
#define ProgId "PhonetAgent.Url"
#define CapabilitiesKey "Software\Phonet\Phonet Agent\Capabilities"
; The agent's own autostart setting writes and removes the same value.
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define RunValueName "Phonet Agent"
#define WebView2ClientKey "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
#define WebView2Bootstrapper "https://go.microsoft.com/fwlink/p/?LinkId=2124703"
; platformdirs.user_data_dir("phonet-agent", appauthor=False) on Windows.
#define UserDataDir "{localappdata}\phonet-agent"

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "packaging\build\windows\agent"
#endif
#ifndef OutputDir
  #define OutputDir "packaging\build\installer"
#endif
#ifndef IconFile
  #define IconFile "packaging\build\assets\agent.ico"
#endif

; Relative paths are relative to this script; the build passes absolute ones.
#if Pos(":", SourceDir) == 0
  #define SourceDir AddBackslash(SourcePath) + SourceDir
#endif
#if Pos(":", IconFile) == 0
  #define IconFile AddBackslash(SourcePath) + IconFile
#endif

; A missing build must fail the compile: `recursesubdirs` over nothing compiles fine.
#if !FileExists(SourceDir + "\" + AppExeName)
  #error The frozen agent is missing: run python3 dev.py package
#endif
#if !FileExists(IconFile)
  #error The icon is missing: run python3 dev.py package
#endif

[Setup]
AppId={{6F1C9E2A-4B7D-4E55-9C1A-2D8B5F3E7A10}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#AppVersion}
VersionInfoProductName={#AppName}
; Per-user by default; /ALLUSERS or the dialog installs for everyone (elevated).
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=commandline dialog
#ifdef SmokeTest
; Wine cannot resolve {autopf} in per-user mode (windows-packaging.md).
DefaultDirName={localappdata}\Programs\{#AppName}
#else
DefaultDirName={autopf}\{#AppName}
#endif
DisableProgramGroupPage=yes
DisableDirPage=auto
UsePreviousTasks=yes
AppMutex={#AppMutexName},Global\{#AppMutexName}
; Restart Manager: a fallback for files still in use once the agent was asked to quit.
CloseApplications=yes
RestartApplications=no
ChangesAssociations=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=PhonetAgent-Setup-{#AppVersion}
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
WizardStyle=modern
#ifdef SmokeTest
Compression=lzma2/fast
#else
Compression=lzma2/max
#endif
SolidCompression=yes
SetupLogging=yes
; The Run value and the toast identity live in HKCU on purpose, also for all users.
UsedUserAreasWarning=no
#ifdef Sign
; ISCC /Sphonetsign=... names the signing command (packaging/phonet_build/inno.py).
SignTool=phonetsign $f
SignedUninstaller=yes
#endif

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "uk"; MessagesFile: "compiler:Languages\Ukrainian.isl"
Name: "ru"; MessagesFile: "compiler:Languages\Russian.isl"

[CustomMessages]
en.AutostartTask=Start {#AppName} when I sign in to Windows
uk.AutostartTask=Запускати {#AppName} під час входу в Windows
ru.AutostartTask=Запускать {#AppName} при входе в Windows
en.UrlHandler=Phonet Agent telephone link
uk.UrlHandler=Телефонне посилання Phonet Agent
ru.UrlHandler=Телефонная ссылка Phonet Agent
en.AppDescription=Calls, pop-ups and the dialer of the Phonet cloud PBX
uk.AppDescription=Дзвінки, сповіщення та автодзвонювач хмарної АТС Phonet
ru.AppDescription=Звонки, уведомления и автодозвон облачной АТС Phonet
en.WebView2Missing=The Microsoft Edge WebView2 runtime, which the agent's window needs, could not be installed:%n%n%1%n%nThe agent still runs; install WebView2 later from Microsoft to open its window.
uk.WebView2Missing=Не вдалося встановити Microsoft Edge WebView2, потрібний для вікна агента:%n%n%1%n%nАгент працює й без нього; встановіть WebView2 від Microsoft пізніше, щоб відкривати вікно.
ru.WebView2Missing=Не удалось установить Microsoft Edge WebView2, нужный для окна агента:%n%n%1%n%nАгент работает и без него; установите WebView2 от Microsoft позже, чтобы открывать окно.
en.DeleteUserData=Also delete your {#AppName} data (call journal, contacts, settings) from this computer?
uk.DeleteUserData=Також видалити дані {#AppName} (журнал дзвінків, контакти, налаштування) з цього комп'ютера?
ru.DeleteUserData=Также удалить данные {#AppName} (журнал звонков, контакты, настройки) с этого компьютера?

[Tasks]
Name: "autostart"; Description: "{cm:AutostartTask}"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#IconFile}"; DestDir: "{app}"; DestName: "agent.ico"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; AppUserModelID: "{#AppUserModelID}"; Comment: "{cm:AppDescription}"

[Registry]
; tel: and callto: (HKA = HKCU per user, HKLM for all users). Since Windows 8 the user
; picks the default handler in Settings; Capabilities + RegisteredApplications make
; the agent appear there. The plain protocol keys serve where no choice was made.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "{cm:UrlHandler}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: "URL Protocol"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"",0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\tel"; ValueType: string; ValueName: ""; ValueData: "URL:tel"
Root: HKA; Subkey: "Software\Classes\tel"; ValueType: string; ValueName: "URL Protocol"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\tel\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"",0"
Root: HKA; Subkey: "Software\Classes\tel\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\callto"; ValueType: string; ValueName: ""; ValueData: "URL:callto"
Root: HKA; Subkey: "Software\Classes\callto"; ValueType: string; ValueName: "URL Protocol"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\callto\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"",0"
Root: HKA; Subkey: "Software\Classes\callto\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""
Root: HKA; Subkey: "Software\Phonet"; Flags: uninsdeletekeyifempty
Root: HKA; Subkey: "Software\Phonet\Phonet Agent"; Flags: uninsdeletekey
Root: HKA; Subkey: "{#CapabilitiesKey}"; ValueType: string; ValueName: "ApplicationName"; ValueData: "{#AppName}"
Root: HKA; Subkey: "{#CapabilitiesKey}"; ValueType: string; ValueName: "ApplicationDescription"; ValueData: "{cm:AppDescription}"
Root: HKA; Subkey: "{#CapabilitiesKey}"; ValueType: string; ValueName: "ApplicationIcon"; ValueData: """{app}\{#AppExeName}"",0"
Root: HKA; Subkey: "{#CapabilitiesKey}\URLAssociations"; ValueType: string; ValueName: "tel"; ValueData: "{#ProgId}"
Root: HKA; Subkey: "{#CapabilitiesKey}\URLAssociations"; ValueType: string; ValueName: "callto"; ValueData: "{#ProgId}"
Root: HKA; Subkey: "Software\RegisteredApplications"; ValueType: string; ValueName: "{#AppName}"; ValueData: "{#CapabilitiesKey}"; Flags: uninsdeletevalue
; What toasts show for the AppUserModelID (agent/winsupport.py register_toast_identity).
; The agent's notifier (desktop-notifier, named after the AppUserModelID) rewrites this
; key at run time; uninsdeletekey removes it whatever it then holds.
Root: HKCU; Subkey: "Software\Classes\AppUserModelId\{#AppUserModelID}"; ValueType: string; ValueName: "DisplayName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\AppUserModelId\{#AppUserModelID}"; ValueType: string; ValueName: "IconUri"; ValueData: "{app}\agent.ico"
; Earlier builds' --selftest named its notifier "Phonet Agent", which wrote this key:
; removed on install and on uninstall, never created.
Root: HKCU; Subkey: "Software\Classes\AppUserModelId\{#AppName}"; Flags: deletekey dontcreatekey uninsdeletekey
; Autostart: an optional task, remembered (UsePreviousTasks); unticked removes it below.
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValueName}"; ValueData: """{app}\{#AppExeName}"" --autostart"; Tasks: autostart; Flags: uninsdeletevalue

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
const
  EVENT_MODIFY_STATE = $0002;
  QuitWaitMs = 10000;

function OpenEvent(dwDesiredAccess: DWORD; bInheritHandle: BOOL; lpName: String): THandle;
  external 'OpenEventW@kernel32.dll stdcall';
function SetEvent(hEvent: THandle): BOOL;
  external 'SetEvent@kernel32.dll stdcall';
function CloseHandle(hObject: THandle): BOOL;
  external 'CloseHandle@kernel32.dll stdcall';

function CmdLineParamExists(const Value: String): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if CompareText(ParamStr(I), Value) = 0 then
    begin
      Result := True;
      Exit;
    end;
end;

{ Ask a running agent to exit (what `agent.exe --quit` does) and wait for its mutex to
  go. Runs before the AppMutex check, which then only sees an agent that would not quit. }
procedure AskRunningAgentToQuit();
var
  Event: THandle;
  Waited: Integer;
begin
  if not CheckForMutexes('{#AppMutexName}') then
    Exit;
  Event := OpenEvent(EVENT_MODIFY_STATE, False, '{#QuitEventName}');
  if Event = 0 then
  begin
    Log('The agent is running but has no quit event; the AppMutex check follows.');
    Exit;
  end;
  SetEvent(Event);
  CloseHandle(Event);
  Log('Asked the running agent to quit.');
  Waited := 0;
  while CheckForMutexes('{#AppMutexName}') and (Waited < QuitWaitMs) do
  begin
    Sleep(100);
    Waited := Waited + 100;
  end;
  if CheckForMutexes('{#AppMutexName}') then
    Log('The agent is still running after the quit request.')
  else
    Log(Format('The agent quit after %d ms.', [Waited]));
end;

function InitializeSetup(): Boolean;
begin
  AskRunningAgentToQuit();
  Result := True;
end;

function InitializeUninstall(): Boolean;
begin
  AskRunningAgentToQuit();
  Result := True;
end;

{ WebView2 Evergreen runtime: EdgeUpdate's client key, per machine (32-bit view) or per
  user; "0.0.0.0" means removed (Microsoft's WebView2 distribution guide). }
function WebView2Version(): String;
var
  Version: String;
begin
  Result := '';
  if RegQueryStringValue(HKLM32, 'SOFTWARE\{#WebView2ClientKey}', 'pv', Version) or
     RegQueryStringValue(HKCU, 'Software\{#WebView2ClientKey}', 'pv', Version) then
    if (Version <> '') and (Version <> '0.0.0.0') then
      Result := Version;
end;

function InstallWebView2(): String;
var
  ResultCode: Integer;
begin
  Result := '';
  try
    DownloadTemporaryFile('{#WebView2Bootstrapper}', 'MicrosoftEdgeWebview2Setup.exe', '', nil);
  except
    Result := GetExceptionMessage;
    Exit;
  end;
  if not Exec(ExpandConstant('{tmp}\MicrosoftEdgeWebview2Setup.exe'), '/silent /install', '',
              SW_HIDE, ewWaitUntilTerminated, ResultCode) then
    Result := SysErrorMessage(ResultCode)
  else if ResultCode <> 0 then
    Result := Format('MicrosoftEdgeWebview2Setup.exe exited with %d', [ResultCode]);
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
var
  Problem: String;
begin
  Result := '';
  if WebView2Version() <> '' then
  begin
    Log('WebView2 runtime present: ' + WebView2Version());
    Exit;
  end;
  if CmdLineParamExists('/NOWEBVIEW2') then
  begin
    Log('WebView2 runtime missing; download skipped (/NOWEBVIEW2).');
    Exit;
  end;
  Log('WebView2 runtime missing; downloading the bootstrapper.');
  Problem := InstallWebView2();
  if Problem <> '' then
  begin
    { The tray, pop-ups and dialing work without it: warn and go on. }
    Log('WebView2 not installed: ' + Problem);
    if not WizardSilent() then
      MsgBox(FmtMessage(CustomMessage('WebView2Missing'), [Problem]), mbInformation, MB_OK);
  end
  else
    Log('WebView2 runtime installed: ' + WebView2Version());
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and not WizardIsTaskSelected('autostart') then
    if RegDeleteValue(HKCU, '{#RunKey}', '{#RunValueName}') then
      Log('Autostart unticked: removed the Run value.');
end;

{ Remove a protocol key only while it still points at this agent: another program may
  have taken tel: or callto: since. }
procedure RemoveProtocolIfOurs(const Protocol: String);
var
  Command: String;
  Root: Integer;
begin
  if IsAdminInstallMode() then Root := HKLM else Root := HKCU;
  if RegQueryStringValue(Root, 'Software\Classes\' + Protocol + '\shell\open\command', '', Command) and
     (Pos(Lowercase(ExpandConstant('{app}\{#AppExeName}')), Lowercase(Command)) > 0) then
  begin
    RegDeleteKeyIncludingSubkeys(Root, 'Software\Classes\' + Protocol);
    Log('Removed the ' + Protocol + ': handler.');
  end;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DeleteData: Boolean;
begin
  if CurUninstallStep = usUninstall then
  begin
    RemoveProtocolIfOurs('tel');
    RemoveProtocolIfOurs('callto');
    RegDeleteValue(HKCU, '{#RunKey}', '{#RunValueName}');
  end;
  if CurUninstallStep = usPostUninstall then
  begin
    DeleteData := CmdLineParamExists('/DELETEUSERDATA');
    if not DeleteData and not UninstallSilent() then
      DeleteData := MsgBox(CustomMessage('DeleteUserData'), mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
    if DeleteData then
    begin
      DelTree(ExpandConstant('{#UserDataDir}'), True, True, True);
      Log('Deleted the user data folder.');
    end;
  end;
end;
