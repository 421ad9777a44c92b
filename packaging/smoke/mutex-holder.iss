; A stand-in for a running agent in the wine smoke test (packaging/phonet_build/smoke.py):
; holds the agent's two mutexes (agent/winsupport.py MUTEX_NAMES) and exits when the
; agent's quit event is set, as the real agent does. With /STUBBORN it has no quit
; event, like an agent that cannot quit, so setup and uninstall must refuse to go on.
;   mutex-holder.exe /VERYSILENT /READY=<file written once the mutexes are held>
;                    /STOP=<file whose appearance ends it> [/STUBBORN]

#ifndef OutputDir
  #define OutputDir "..\build\smoke\holder"
#endif

[Setup]
OutputDir={#OutputDir}
AppName=Phonet Agent mutex holder
AppVersion=1
CreateAppDir=no
Uninstallable=no
PrivilegesRequired=lowest
OutputBaseFilename=mutex-holder
ArchitecturesInstallIn64BitMode=x64compatible

[Code]
function CreateEvent(lpEventAttributes: Cardinal; bManualReset, bInitialState: BOOL; lpName: String): THandle;
  external 'CreateEventW@kernel32.dll stdcall';
function WaitForSingleObject(hHandle: THandle; dwMilliseconds: DWORD): DWORD;
  external 'WaitForSingleObject@kernel32.dll stdcall';

function HasSwitch(const Value: String): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if CompareText(ParamStr(I), Value) = 0 then
      Result := True;
end;

function InitializeSetup(): Boolean;
var
  Quit: THandle;
  Ready, Stop: String;
  Waited: Integer;
begin
  CreateMutex('Phonet Agent');
  CreateMutex('Global\Phonet Agent');
  Quit := 0;
  if not HasSwitch('/STUBBORN') then
    Quit := CreateEvent(0, False, False, 'Phonet Agent Quit');
  Ready := ExpandConstant('{param:READY|}');
  Stop := ExpandConstant('{param:STOP|}');
  if Ready <> '' then
    SaveStringToFile(Ready, 'holding', False);
  Waited := 0;
  { At most five minutes, so a failed test never leaves it behind for long. }
  while Waited < 300000 do
  begin
    if Quit <> 0 then
    begin
      if WaitForSingleObject(Quit, 100) = 0 then
        Break;
    end
    else
      Sleep(100);
    if (Stop <> '') and FileExists(Stop) then
      Break;
    Waited := Waited + 100;
  end;
  Result := False;
end;
